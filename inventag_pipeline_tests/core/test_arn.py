"""ARN fields (core.arn)."""

from inventag_pipeline.core.arn import arn_account, arn_partition


def test_account_and_partition_of_arns_and_non_arns():
    assert arn_account("arn:aws:iam::111122223333:role/x") == "111122223333"
    assert arn_account("arn:aws:sqs:us-east-1:123456789012:q:with:colons") == "123456789012"
    assert arn_account("arn:aws:s3:::bucket") is None
    assert arn_account("111122223333") is None and arn_account("*") is None
    assert arn_partition("arn:aws-cn:iam::111122223333:root") == "aws-cn"
    assert arn_partition("not-an-arn") == "aws"
