#include "uploader/policy.hpp"

#include <array>

namespace s3chaos::uploader {
namespace {

struct CatalogueEntry {
  std::string_view name;
  std::string_view description;
};

// "protected" first, then the unsafe variants in the order docs/uploader.md presents them.
constexpr std::array<CatalogueEntry, 9> catalogue = {{
    {"protected",
     "Acknowledges only durable photos; evicts only after a verification read at least the "
     "settle time after the PUT's 200, on the required number of targets."},
    {"naive-2008",
     "PhotoShare's 2008 design: deletes the local copy on the first 200, so a write the store "
     "acknowledged and then lost (the life/death window) is gone."},
    {"ack-before-fsync",
     "Acknowledges the phone before the bytes and the journal entry are durable, so a crash "
     "in between loses an acknowledged photo."},
    {"no-settle",
     "Verifies with a read right after the 200: the read sees the store's volatile write, "
     "which the store can still lose."},
    {"timeout-as-success",
     "Treats a PUT that timed out or failed with 5xx as a stored copy and evicts, although "
     "the outcome is unknown and the object may not exist."},
    {"no-dir-fsync",
     "Renames the content file into place without fsyncing its directory, so a crash can "
     "forget the rename and with it an acknowledged photo."},
    {"counter-keys",
     "Derives object keys from an in-memory counter that restarts at each boot, so after a "
     "crash a new photo overwrites an old, already evicted one in the store."},
    {"trust-list",
     "Counts the key's presence in a LIST as verification, so a truncated or damaged object "
     "that is listed gets the local copy evicted."},
    {"single-vendor-evict",
     "With two targets configured, evicts after one verified copy: one vendor is one basket, "
     "and a vendor that later loses the object loses the photo."},
}};

}  // namespace

Policy protected_policy() {
  return Policy{};
}

std::optional<Policy> policy_by_name(std::string_view name) {
  Policy policy;
  if (name == "protected") {
    // Every safeguard on.
  } else if (name == "naive-2008") {
    policy.verify_before_evict = false;
    policy.reverify_on_recovery = false;
  } else if (name == "ack-before-fsync") {
    policy.ack_after_durable = false;
  } else if (name == "no-settle") {
    policy.settle_before_verify = false;
  } else if (name == "timeout-as-success") {
    policy.unknown_put_outcome_is_success = true;
  } else if (name == "no-dir-fsync") {
    policy.sync_content_directory = false;
  } else if (name == "counter-keys") {
    policy.durable_keys = false;
  } else if (name == "trust-list") {
    policy.verify_by_list = true;
  } else if (name == "single-vendor-evict") {
    policy.evict_after_one_target = true;
  } else {
    return std::nullopt;
  }
  policy.name = std::string(name);
  return policy;
}

std::vector<std::string_view> policy_names() {
  std::vector<std::string_view> names;
  for (const auto& entry : catalogue) names.push_back(entry.name);
  return names;
}

std::string_view policy_description(std::string_view name) {
  for (const auto& entry : catalogue) {
    if (entry.name == name) return entry.description;
  }
  return {};
}

}  // namespace s3chaos::uploader
