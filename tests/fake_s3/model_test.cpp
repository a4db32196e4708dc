// Proves, with RapidCheck's stateful testing, that without faults any random sequence of put,
// get, head, delete, copy, list (prefix, delimiter, max-keys paging through continuation
// tokens over HTTP) and multipart operations behaves exactly like a map-based reference model
// of S3 (ShardStore's approach: a model about 1% of the code's size); and that the same holds
// over the persistent record with restarts after power losses in between.
#include <gtest/gtest.h>
#include <rapidcheck/gtest.h>
#include <rapidcheck/state.h>

#include <map>
#include <pugixml.hpp>

#include "fake_s3/core.hpp"
#include "fake_s3/http.hpp"
#include "fake_s3/storage.hpp"
#include "fake_s3_test_support.hpp"
#include "sim/disk.hpp"

namespace s3chaos::fake_s3 {
namespace {

constexpr const char* bucket = "photos";

struct ModelUpload {
  std::string key;
  std::map<int, std::string> parts;
};

struct Model {
  std::map<std::string, std::string> objects;
  std::vector<ModelUpload> uploads;
};

struct Sut {
  // persistent: the core keeps a record on a simulated disk (storage.hpp), and Restart
  // commands reopen it after a crash of that disk.
  explicit Sut(bool persistent = false)
      : persistent(persistent), disk(sim::RandomStream::named(1, "model.disk")) {
    open();
    RC_ASSERT(core->create_bucket(RequestContext{}, bucket).ok());
  }
  static CoreSettings make_settings() {
    CoreSettings settings;
    settings.part_size_min_bytes = 0;
    return settings;
  }
  void open() {
    core.reset();
    core = persistent
               ? std::make_unique<S3Core>(make_settings(), open_persistent_storage(disk, "data"))
               : std::make_unique<S3Core>(make_settings());
  }
  bool persistent = false;
  sim::SimDisk disk;  // declared before the core, which may hold a record on it
  RequestContext next() {
    RequestContext ctx;
    ctx.now = ++clock_ns;
    return ctx;
  }
  std::unique_ptr<S3Core> core;
  std::vector<std::string> upload_ids;  // parallel to Model::uploads
  TimeNs clock_ns = 0;
};

using Command = rc::state::Command<Model, Sut>;

rc::Gen<std::string> key_generator() {
  // Few distinct keys with '/' in them, so that overwrites, prefixes and common prefixes
  // happen often.
  return rc::gen::map(rc::gen::container<std::vector<std::string>>(
                          rc::gen::element<std::string>("a", "b", "/", "c")),
                      [](const std::vector<std::string>& pieces) {
                        std::string key = "k";
                        for (std::size_t i = 0; i < pieces.size() && i < 4; ++i) key += pieces[i];
                        return key;
                      });
}

rc::Gen<std::string> body_generator() {
  return rc::gen::container<std::string>(rc::gen::inRange<char>('a', 'e'));
}

struct Put : Command {
  std::string key = *key_generator();
  std::string body = *body_generator();
  void apply(Model& model) const override { model.objects[key] = body; }
  void run(const Model&, Sut& sut) const override {
    auto result = sut.core->put_object(
        sut.next(), PutObjectInput{bucket, key, body, {}, {}, "", {}, false, {}});
    RC_ASSERT(result.ok());
    RC_ASSERT(result.value().etag == "\"" + s3proto::md5_hex(body) + "\"");
  }
  void show(std::ostream& os) const override { os << "Put(" << key << ", " << body << ")"; }
};

struct Get : Command {
  std::string key = *key_generator();
  void run(const Model& model, Sut& sut) const override {
    auto result = sut.core->get_object(sut.next(), GetObjectInput{bucket, key, std::nullopt, {}});
    auto found = model.objects.find(key);
    if (found == model.objects.end()) {
      RC_ASSERT(!result.ok());
      RC_ASSERT(result.error().code == "NoSuchKey");
    } else {
      RC_ASSERT(result.ok());
      RC_ASSERT(std::string(result.value().body.view()) == found->second);
    }
  }
  void show(std::ostream& os) const override { os << "Get(" << key << ")"; }
};

struct Head : Command {
  std::string key = *key_generator();
  void run(const Model& model, Sut& sut) const override {
    auto result = sut.core->head_object(sut.next(), GetObjectInput{bucket, key, std::nullopt, {}});
    auto found = model.objects.find(key);
    RC_ASSERT(result.ok() == (found != model.objects.end()));
    if (result.ok()) RC_ASSERT(result.value().meta.size_bytes == found->second.size());
  }
  void show(std::ostream& os) const override { os << "Head(" << key << ")"; }
};

struct Delete : Command {
  std::string key = *key_generator();
  void apply(Model& model) const override { model.objects.erase(key); }
  void run(const Model&, Sut& sut) const override {
    RC_ASSERT(sut.core->delete_object(sut.next(), bucket, key).ok());
  }
  void show(std::ostream& os) const override { os << "Delete(" << key << ")"; }
};

struct Copy : Command {
  std::string source = *key_generator();
  std::string destination = *key_generator();
  void apply(Model& model) const override {
    auto found = model.objects.find(source);
    if (found != model.objects.end() && source != destination) {
      model.objects[destination] = found->second;
    }
  }
  void run(const Model& model, Sut& sut) const override {
    CopyObjectInput input;
    input.source_bucket = bucket;
    input.source_key = source;
    input.bucket = bucket;
    input.key = destination;
    auto result = sut.core->copy_object(sut.next(), input);
    if (model.objects.count(source) == 0) {
      RC_ASSERT(result.error().code == "NoSuchKey");
    } else if (source == destination) {
      RC_ASSERT(result.error().code == "InvalidRequest");
    } else {
      RC_ASSERT(result.ok());
      RC_ASSERT(result.value().etag == "\"" + s3proto::md5_hex(model.objects.at(source)) + "\"");
    }
  }
  void show(std::ostream& os) const override {
    os << "Copy(" << source << " -> " << destination << ")";
  }
};

// Lists through the HTTP layer, following NextContinuationToken until IsTruncated is false.
struct List : Command {
  std::string prefix = *rc::gen::element<std::string>("", "k", "ka", "ka/", "kb/", "k/");
  std::string delimiter = *rc::gen::element<std::string>("", "/", "a");
  int max_keys = *rc::gen::inRange(1, 5);

  void run(const Model& model, Sut& sut) const override {
    std::vector<std::string> expected;
    for (const auto& [key, body] : model.objects) {
      if (key.compare(0, prefix.size(), prefix) != 0) continue;
      std::string entry = key;
      if (!delimiter.empty()) {
        const auto position = key.find(delimiter, prefix.size());
        if (position != std::string::npos)
          entry = "P:" + key.substr(0, position + delimiter.size());
      }
      if (expected.empty() || expected.back() != entry) expected.push_back(entry);
    }
    std::vector<std::string> seen;
    std::string token;
    for (int page = 0; page < 1000; ++page) {
      std::string target =
          std::string("/") + bucket + "?list-type=2&max-keys=" + std::to_string(max_keys) +
          "&prefix=" + percent_encode_path(prefix) + "&delimiter=" + percent_encode_path(delimiter);
      if (!token.empty()) target += "&continuation-token=" + percent_encode_path(token);
      HttpResponse response =
          handle_http(*sut.core, sut.next(), testing::request("GET", target), "R");
      RC_ASSERT(response.status == 200);
      pugi::xml_document document;
      RC_ASSERT(static_cast<bool>(document.load_string(response.body.c_str())));
      pugi::xml_node root = document.child("ListBucketResult");
      // Contents and CommonPrefixes are each sorted; merge them back into key order.
      std::vector<std::string> page_entries;
      for (auto node : root.children("Contents")) page_entries.push_back(node.child_value("Key"));
      for (auto node : root.children("CommonPrefixes")) {
        page_entries.push_back(std::string("P:") + node.child_value("Prefix"));
      }
      std::sort(page_entries.begin(), page_entries.end(),
                [](const std::string& a, const std::string& b) {
                  auto plain = [](const std::string& s) {
                    return s.rfind("P:", 0) == 0 ? s.substr(2) : s;
                  };
                  return plain(a) < plain(b);
                });
      RC_ASSERT(static_cast<int>(page_entries.size()) <= max_keys);
      RC_ASSERT(std::to_string(page_entries.size()) == root.child_value("KeyCount"));
      seen.insert(seen.end(), page_entries.begin(), page_entries.end());
      if (std::string(root.child_value("IsTruncated")) != "true") break;
      token = root.child_value("NextContinuationToken");
      RC_ASSERT(!token.empty());
    }
    RC_ASSERT(seen == expected);
  }
  void show(std::ostream& os) const override {
    os << "List(prefix=" << prefix << ", delimiter=" << delimiter << ", max_keys=" << max_keys
       << ")";
  }
};

// Without faults the truth is exactly the model: every object durable, nothing pending or lost.
struct CheckTruth : Command {
  void run(const Model& model, Sut& sut) const override {
    const TruthView truth = sut.core->truth();
    std::map<std::string, std::string> durable;
    for (const auto& version : truth.durable_objects) durable[version.key] = *version.bytes;
    RC_ASSERT(durable == model.objects);
    RC_ASSERT(truth.pending.empty());
    RC_ASSERT(truth.lost.empty());
  }
  void show(std::ostream& os) const override { os << "CheckTruth"; }
};

// The service restarts over its record after a power loss: every acknowledged write was
// durable (no faults), so nothing the model holds may change, uploads in progress included.
struct Restart : Command {
  void run(const Model&, Sut& sut) const override {
    RC_ASSERT(sut.persistent);
    sut.core.reset();
    sut.disk.crash();
    sut.open();
  }
  void show(std::ostream& os) const override { os << "Restart"; }
};

struct CreateUpload : Command {
  std::string key = *key_generator();
  void checkPreconditions(const Model& model) const override { RC_PRE(model.uploads.size() < 4u); }
  void apply(Model& model) const override { model.uploads.push_back({key, {}}); }
  void run(const Model&, Sut& sut) const override {
    auto result = sut.core->create_multipart_upload(sut.next(), {bucket, key, "", {}, {}});
    RC_ASSERT(result.ok());
    sut.upload_ids.push_back(result.value());
  }
  void show(std::ostream& os) const override { os << "CreateUpload(" << key << ")"; }
};

struct UploadPart : Command {
  std::size_t upload = *rc::gen::inRange<std::size_t>(0, 4);
  int part_number = *rc::gen::inRange(1, 4);
  std::string body = *body_generator();
  void checkPreconditions(const Model& model) const override {
    RC_PRE(upload < model.uploads.size());
  }
  void apply(Model& model) const override { model.uploads[upload].parts[part_number] = body; }
  void run(const Model& model, Sut& sut) const override {
    auto result = sut.core->upload_part(
        sut.next(),
        {bucket, model.uploads[upload].key, sut.upload_ids[upload], part_number, body, {}, {}});
    RC_ASSERT(result.ok());
  }
  void show(std::ostream& os) const override {
    os << "UploadPart(" << upload << ", " << part_number << ", " << body << ")";
  }
};

struct Complete : Command {
  std::size_t upload = *rc::gen::inRange<std::size_t>(0, 4);
  void checkPreconditions(const Model& model) const override {
    RC_PRE(upload < model.uploads.size());
  }
  void apply(Model& model) const override {
    const ModelUpload& pending = model.uploads[upload];
    if (pending.parts.empty()) return;  // MalformedXML: the upload stays
    std::string bytes;
    for (const auto& [number, part] : pending.parts) bytes += part;
    model.objects[pending.key] = bytes;
    model.uploads.erase(model.uploads.begin() + static_cast<std::ptrdiff_t>(upload));
  }
  void run(const Model& model, Sut& sut) const override {
    const ModelUpload& pending = model.uploads[upload];
    std::vector<CompletedPart> parts;
    std::string md5s;
    for (const auto& [number, part] : pending.parts) {
      parts.push_back({number, "\"" + s3proto::md5_hex(part) + "\""});
      const auto raw = s3proto::md5(part);
      md5s.append(reinterpret_cast<const char*>(raw.data()), raw.size());
    }
    auto result = sut.core->complete_multipart_upload(sut.next(), bucket, pending.key,
                                                      sut.upload_ids[upload], parts);
    if (parts.empty()) {
      RC_ASSERT(result.error().code == "MalformedXML");
      return;
    }
    RC_ASSERT(result.ok());
    RC_ASSERT(result.value().etag ==
              "\"" + s3proto::md5_hex(md5s) + "-" + std::to_string(parts.size()) + "\"");
    sut.upload_ids.erase(sut.upload_ids.begin() + static_cast<std::ptrdiff_t>(upload));
  }
  void show(std::ostream& os) const override { os << "Complete(" << upload << ")"; }
};

struct Abort : Command {
  std::size_t upload = *rc::gen::inRange<std::size_t>(0, 4);
  void checkPreconditions(const Model& model) const override {
    RC_PRE(upload < model.uploads.size());
  }
  void apply(Model& model) const override {
    model.uploads.erase(model.uploads.begin() + static_cast<std::ptrdiff_t>(upload));
  }
  void run(const Model& model, Sut& sut) const override {
    RC_ASSERT(sut.core
                  ->abort_multipart_upload(sut.next(), bucket, model.uploads[upload].key,
                                           sut.upload_ids[upload])
                  .ok());
    sut.upload_ids.erase(sut.upload_ids.begin() + static_cast<std::ptrdiff_t>(upload));
  }
  void show(std::ostream& os) const override { os << "Abort(" << upload << ")"; }
};

TEST(Model, RandomSequencesMatchTheReferenceModel) {
  // Random command sequences (fixed seed, S3CHAOS_PROPERTY_CASES of them) are checked step by
  // step against the model, including the truth's durable objects (CheckTruth).
  testing::check_property(300, 80, [] {
    Model model;
    Sut sut;
    rc::state::check(
        model, sut,
        rc::state::gen::execOneOfWithArgs<Put, Put, Get, Head, Delete, Copy, List, CreateUpload,
                                          UploadPart, UploadPart, Complete, Abort, CheckTruth>());
  });
}

TEST(Model, RandomSequencesWithRestartsOverThePersistentRecordMatchTheModel) {
  // The same commands over a core backed by SQLite and content files on a simulated disk,
  // with restarts after a power loss in between: the reopened core still behaves exactly like
  // the model (objects, listings, uploads in progress, truth). Multipart commands and restarts
  // are drawn more often than in the test above, so that uploads span restarts.
  testing::check_property(100, 60, [] {
    Model model;
    Sut sut(true);
    rc::state::check(
        model, sut,
        rc::state::gen::execOneOfWithArgs<
            Put, Put, Get, Head, Delete, Copy, List, CreateUpload, CreateUpload, UploadPart,
            UploadPart, UploadPart, Complete, Complete, Abort, CheckTruth, Restart, Restart>());
  });
}

}  // namespace
}  // namespace s3chaos::fake_s3
