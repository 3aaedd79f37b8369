"""The S3 side of tests/object_storage.rs, run by the moto venv's Python.

  s3.py setup ENDPOINT BUCKET...  create an IAM user with S3 rights and its
                                  access key (the first four IAM actions moto
                                  lets through unauthenticated), then the buckets
                                  with that key; print {"id": ..., "secret": ...}
  s3.py check < targets.json      for each target (url, region, bucket,
                                  path_style, id, secret) write, read back and
                                  delete one object; print one result per target:
                                  "ok" or the S3 error code

Only boto3 (moto's own client library) is used; nothing here knows sextant's
config format: the Rust test reads the rendered configs and passes what Loki
and Tempo would connect with.
"""

import json
import sys

import boto3
import botocore.config
import botocore.exceptions

POLICY = json.dumps(
    {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Action": "s3:*", "Resource": "*"}],
    }
)


def setup(endpoint, buckets):
    iam = boto3.client(
        "iam",
        endpoint_url=endpoint,
        region_name="us-east-1",
        aws_access_key_id="setup",
        aws_secret_access_key="setup",
    )
    iam.create_user(UserName="sextant")
    key = iam.create_access_key(UserName="sextant")["AccessKey"]
    arn = iam.create_policy(PolicyName="s3", PolicyDocument=POLICY)["Policy"]["Arn"]
    iam.attach_user_policy(UserName="sextant", PolicyArn=arn)
    s3 = boto3.client(
        "s3",
        endpoint_url=endpoint,
        region_name="us-east-1",
        aws_access_key_id=key["AccessKeyId"],
        aws_secret_access_key=key["SecretAccessKey"],
    )
    for b in buckets:
        s3.create_bucket(Bucket=b)
    print(json.dumps({"id": key["AccessKeyId"], "secret": key["SecretAccessKey"]}))


def check_one(t):
    style = "path" if t["path_style"] else "virtual"
    s3 = boto3.client(
        "s3",
        endpoint_url=t["url"],
        region_name=t["region"],
        aws_access_key_id=t["id"],
        aws_secret_access_key=t["secret"],
        config=botocore.config.Config(s3={"addressing_style": style}),
    )
    body = b"sextant object store check"
    try:
        s3.put_object(Bucket=t["bucket"], Key="sextant-check", Body=body)
        got = s3.get_object(Bucket=t["bucket"], Key="sextant-check")["Body"].read()
        s3.delete_object(Bucket=t["bucket"], Key="sextant-check")
    except botocore.exceptions.ClientError as e:
        return e.response["Error"]["Code"]
    except botocore.exceptions.EndpointConnectionError:
        return "EndpointConnectionError"
    return "ok" if got == body else "read back other bytes"


def main():
    if sys.argv[1] == "setup":
        setup(sys.argv[2], sys.argv[3:])
    elif sys.argv[1] == "check":
        print(json.dumps([check_one(t) for t in json.load(sys.stdin)]))
    else:
        sys.exit("usage: s3.py setup ENDPOINT BUCKET... | s3.py check")


if __name__ == "__main__":
    main()
