#!/bin/sh
# What compose's minio-setup does with mc, done with curl's SigV4 signing (the stand-in images have no
# mc): the three buckets, and raw's notifications (created and removed objects) to the Kafka target.
set -eu
key=$(cat /run/secrets/s3_secret_key)
s3() { # METHOD PATH [BODY]
  body=${3-}
  sha=$(printf '%s' "$body" | sha256sum | cut -d' ' -f1)
  curl -fsS -X "$1" --aws-sigv4 aws:amz:us-east-1:s3 --user "rainbow:$key" -H "x-amz-content-sha256: $sha" \
    ${body:+--data-binary "$body"} "http://minio:9000$2" >/dev/null
}
for b in raw converted lake; do
  s3 HEAD "/$b" 2>/dev/null || s3 PUT "/$b"
done
s3 PUT '/raw?notification=' '<NotificationConfiguration><QueueConfiguration><Id>raw-to-kafka</Id><Queue>arn:minio:sqs::PRIMARY:kafka</Queue><Event>s3:ObjectCreated:*</Event><Event>s3:ObjectRemoved:*</Event></QueueConfiguration></NotificationConfiguration>'
echo "minio-setup: buckets raw converted lake; raw notifies arn:minio:sqs::PRIMARY:kafka"
