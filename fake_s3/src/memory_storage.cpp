// The in-memory record: see storage.hpp.
#include <algorithm>
#include <map>
#include <tuple>

#include "fake_s3/storage.hpp"
#include "sim/assert.hpp"

namespace s3chaos::fake_s3 {

namespace {

class MemoryStorage final : public ObjectStorage {
 public:
  std::string_view kind() const override { return "memory"; }

  StoredState load() override {
    StoredState state;
    for (const auto& [name, created_at] : buckets_) state.buckets.push_back({name, created_at});
    for (const auto& [where, object] : objects_) state.objects.push_back(object);
    for (const auto& [where, upload] : uploads_) {
      StoredUpload copy = upload.upload;
      for (const auto& [number, part] : upload.parts) copy.parts.push_back(part);
      state.uploads.push_back(std::move(copy));
    }
    state.next_version_sequence = next_version_sequence_;
    state.next_upload_number = next_upload_number_;
    return state;
  }

  std::error_code put_bucket(const StoredBucket& bucket) override {
    buckets_[bucket.name] = bucket.created_at;
    return {};
  }

  std::error_code remove_bucket(std::string_view name) override {
    auto found = buckets_.find(name);
    if (found != buckets_.end()) buckets_.erase(found);
    return {};
  }

  std::error_code put_object(const StoredObject& object) override {
    S3CHAOS_ASSERT(object.bytes != nullptr);
    note_sequence(object.version_sequence);
    objects_[{object.bucket, object.meta.key}] = object;
    return {};
  }

  std::error_code remove_object(std::string_view bucket, std::string_view key,
                                std::uint64_t version_sequence) override {
    note_sequence(version_sequence);
    auto found = objects_.find(std::make_pair(std::string(bucket), std::string(key)));
    if (found != objects_.end()) objects_.erase(found);
    return {};
  }

  std::error_code put_upload(const StoredUpload& upload) override {
    next_upload_number_ = std::max(next_upload_number_, upload.upload_number + 1);
    Upload& stored = uploads_[{upload.bucket, upload.upload_id}];
    stored.upload = upload;
    stored.upload.parts.clear();
    stored.parts.clear();
    return {};
  }

  std::error_code put_part(std::string_view bucket, std::string_view upload_id,
                           const StoredPart& part) override {
    auto found = uploads_.find(std::make_pair(std::string(bucket), std::string(upload_id)));
    if (found == uploads_.end()) return std::make_error_code(std::errc::no_such_file_or_directory);
    found->second.parts[part.part_number] = part;
    return {};
  }

  std::error_code remove_part(std::string_view bucket, std::string_view upload_id,
                              int part_number) override {
    auto found = uploads_.find(std::make_pair(std::string(bucket), std::string(upload_id)));
    if (found != uploads_.end()) found->second.parts.erase(part_number);
    return {};
  }

  std::error_code remove_upload(std::string_view bucket, std::string_view upload_id) override {
    uploads_.erase(std::make_pair(std::string(bucket), std::string(upload_id)));
    return {};
  }

  std::error_code complete_upload(const StoredObject& object, std::string_view upload_id) override {
    if (auto error = put_object(object)) return error;
    return remove_upload(object.bucket, upload_id);
  }

 private:
  struct Upload {
    StoredUpload upload;
    std::map<int, StoredPart> parts;
  };

  void note_sequence(std::uint64_t sequence) {
    next_version_sequence_ = std::max(next_version_sequence_, sequence + 1);
  }

  std::map<std::string, TimeNs, std::less<>> buckets_;
  std::map<std::pair<std::string, std::string>, StoredObject> objects_;
  std::map<std::pair<std::string, std::string>, Upload> uploads_;
  std::uint64_t next_version_sequence_ = 1;
  std::uint64_t next_upload_number_ = 1;
};

}  // namespace

std::unique_ptr<ObjectStorage> make_memory_storage() {
  return std::make_unique<MemoryStorage>();
}

}  // namespace s3chaos::fake_s3
