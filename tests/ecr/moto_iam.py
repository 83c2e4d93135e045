"""Makes the IAM user the ECR tests sign as, in a moto server started with
INITIAL_NO_AUTH_ACTION_COUNT=3 (these three calls are the unauthenticated
ones; every later request must be signed by a key moto knows, with the
permission it needs). Prints {"id": ..., "secret": ...}.

    python moto_iam.py http://127.0.0.1:PORT
"""
import json
import sys

import boto3

iam = boto3.client(
    "iam",
    endpoint_url=sys.argv[1],
    region_name="us-east-1",
    aws_access_key_id="bootstrap",
    aws_secret_access_key="bootstrap",
)
iam.create_user(UserName="wharf-puller")
iam.put_user_policy(
    UserName="wharf-puller",
    PolicyName="ecr-token",
    PolicyDocument=json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                {"Effect": "Allow", "Action": "ecr:GetAuthorizationToken", "Resource": "*"}
            ],
        }
    ),
)
key = iam.create_access_key(UserName="wharf-puller")["AccessKey"]
print(json.dumps({"id": key["AccessKeyId"], "secret": key["SecretAccessKey"]}))
