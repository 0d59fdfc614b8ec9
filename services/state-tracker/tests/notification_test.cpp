// Parsing MinIO/AWS bucket notifications (files.events) and file state names.
#include <gtest/gtest.h>

#include "services/state-tracker/src/notification.hpp"
#include "services/state-tracker/src/state_store.hpp"

namespace rainbow::state {
namespace {

const char* kMinioEvent = R"({"EventName":"s3:ObjectCreated:Put","Key":"raw/dir/a b+c.json","Records":[
  {"eventVersion":"2.0","eventSource":"minio:s3","eventName":"s3:ObjectCreated:Put",
   "s3":{"s3SchemaVersion":"1.0","bucket":{"name":"raw","arn":"arn:aws:s3:::raw"},
         "object":{"key":"dir%2Fa+b%2Bc.json","size":1234,"eTag":"d41d8cd98f00b204e9800998ecf8427e",
                   "contentType":"application/json","sequencer":"17A"}}}]})";

TEST(Notification, ParsesMinioShapeAndDecodesKey) {
  const auto objs = ParseBucketNotification(kMinioEvent);
  ASSERT_EQ(objs.size(), 1u);
  EXPECT_EQ(objs[0].event_name, "s3:ObjectCreated:Put");
  EXPECT_EQ(objs[0].bucket, "raw");
  EXPECT_EQ(objs[0].key, "dir/a b+c.json");
  EXPECT_EQ(objs[0].size, 1234u);
  EXPECT_EQ(objs[0].etag, "d41d8cd98f00b204e9800998ecf8427e");
  EXPECT_EQ(objs[0].sequencer, "17A");
}

TEST(Notification, SequencerIsOptionalButMustBeHex) {
  const std::string with = R"({"Records":[{"eventName":"s3:ObjectCreated:Put","s3":{"bucket":{"name":"raw"},)"
                           R"("object":{"key":"a.json","eTag":"e1"SEQ}}}]})";
  auto with_seq = [&](const std::string& seq) {
    std::string v = with;
    v.replace(v.find("SEQ"), 3, seq);
    return v;
  };
  EXPECT_EQ(ParseBucketNotification(with_seq("")).at(0).sequencer, "");
  EXPECT_EQ(ParseBucketNotification(with_seq(R"(,"sequencer":"0055AED6DCD90281E5")")).at(0).sequencer,
            "0055AED6DCD90281E5");
  EXPECT_THROW(ParseBucketNotification(with_seq(R"(,"sequencer":"xyz")")), NotificationError);
  EXPECT_THROW(ParseBucketNotification(with_seq(R"(,"sequencer":"")")), NotificationError);
  EXPECT_THROW(ParseBucketNotification(with_seq(R"(,"sequencer":17)")), NotificationError);
}

TEST(Notification, QueryUnescape) {
  EXPECT_EQ(QueryUnescape("a%2Fb+c%25%e2%82%ac"), "a/b c%\xE2\x82\xAC");
  EXPECT_THROW(QueryUnescape("a%2"), NotificationError);
  EXPECT_THROW(QueryUnescape("a%zz"), NotificationError);
}

TEST(Notification, KeepsCreationsAndRemovalsSkipsOthersAndStripsQuotes) {
  const auto objs = ParseBucketNotification(
      R"({"Records":[{"eventName":"s3:ObjectRemoved:Delete","s3":{"bucket":{"name":"raw"},"object":{"key":"x","sequencer":"1A"}}},
                     {"eventName":"s3:ObjectAccessed:Get","s3":{"bucket":{"name":"raw"},"object":{"key":"z"}}},
                     {"eventName":"s3:ObjectCreated:CompleteMultipartUpload","s3":{"bucket":{"name":"raw"},
                      "object":{"key":"y.json","size":5,"eTag":"\"abc-2\""}}}]})");
  ASSERT_EQ(objs.size(), 2u);
  EXPECT_TRUE(objs[0].removed);  // a removal needs no eTag
  EXPECT_EQ(objs[0].key, "x");
  EXPECT_EQ(objs[0].sequencer, "1A");
  EXPECT_FALSE(objs[1].removed);
  EXPECT_EQ(objs[1].key, "y.json");
  EXPECT_EQ(objs[1].etag, "abc-2");
}

TEST(Notification, RejectsNonConformingMessages) {
  for (
      const char* bad :
      {"not json", "[]", "{}", R"({"Records":{}})", R"({"Records":[{"eventName":"s3:ObjectCreated:Put"}]})",
       R"({"Records":[{"eventName":"s3:ObjectCreated:Put","s3":{"bucket":{"name":"raw"},"object":{"key":"k"}}}]})",
       R"({"Records":[{"eventName":"s3:ObjectCreated:Put","s3":{"bucket":{"name":"raw"},"object":{"key":"k","eTag":"e","size":-1}}}]})",
       R"({"Records":[{"eventName":"s3:ObjectCreated:Put","s3":{"bucket":{"name":"raw"},"object":{"key":"%G1","eTag":"e"}}}]})"}) {
    EXPECT_THROW(ParseBucketNotification(bad), NotificationError) << bad;
  }
}

TEST(FileState, RoundTrip) {
  for (auto s : {FileState::kPending, FileState::kInProgress, FileState::kCompleted, FileState::kFailed,
                 FileState::kRemoved}) {
    EXPECT_EQ(ParseFileState(ToString(s)), s);
  }
  EXPECT_FALSE(ParseFileState("DONE").has_value());
}

}  // namespace
}  // namespace rainbow::state
