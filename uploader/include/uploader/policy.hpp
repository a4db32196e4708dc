// Policies: the protected design and a catalogue of known-unsafe variants.
//
// A policy is a set of switches over ONE code path (uploader.cpp), not a separate
// implementation: every unsafe variant turns off exactly one safeguard of `protected`, so a
// loss found under a variant points at the safeguard it removed. docs/uploader.md describes
// each variant and the bug it models.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace s3chaos::uploader {

struct Policy {
  std::string name = "protected";
  // Acknowledge the phone only after the bytes and the journal entry are durable.
  // Off in ack-before-fsync: the ack goes out first, the writes follow.
  bool ack_after_durable = true;
  // fsync the content directory after renaming a content file into it.
  // Off in no-dir-fsync: the rename may be forgotten by a crash, the photo with it.
  bool sync_content_directory = true;
  // Object keys derive from the journal's AUTOINCREMENT row id, durable across crashes.
  // Off in counter-keys: keys come from an in-memory counter that restarts at each boot.
  bool durable_keys = true;
  // Evict only copies confirmed by a read-back. Off in naive-2008: the first 200 on a PUT
  // counts as a safe copy and the local file is deleted at once.
  bool verify_before_evict = true;
  // Wait settle_time_ns after the PUT's 200 before the verification read.
  // Off in no-settle: the read happens at once and can see a write that is still volatile.
  bool settle_before_verify = true;
  // On a PUT that timed out or failed with 5xx (an unknown outcome), treat the copy as safe.
  // On in timeout-as-success.
  bool unknown_put_outcome_is_success = false;
  // Verify with a LIST of the key's prefix (presence counts) instead of HEAD / GET.
  // On in trust-list.
  bool verify_by_list = false;
  // Evict after one verified copy even when Settings::targets_required is larger.
  // On in single-vendor-evict.
  bool evict_after_one_target = false;
  // After a crash, re-verify copies the journal recorded as verified before evicting.
  bool reverify_on_recovery = true;
};

// The default: every safeguard on.
Policy protected_policy();

// The policy called `name` ("protected", "naive-2008", "ack-before-fsync", "no-settle",
// "timeout-as-success", "no-dir-fsync", "counter-keys", "trust-list",
// "single-vendor-evict"). nullopt for an unknown name.
std::optional<Policy> policy_by_name(std::string_view name);

// Every known policy name, "protected" first, then the unsafe catalogue.
std::vector<std::string_view> policy_names();

// One sentence on the bug an unsafe policy models (or on what protected promises).
std::string_view policy_description(std::string_view name);

}  // namespace s3chaos::uploader
