"""Accounts configuration and the collection window (core.accounts, DESIGN §2 and §8)."""

from __future__ import annotations

import datetime as dt

import pytest
import yaml

from inventag_pipeline.core.accounts import (
    SIMULATED_ACCOUNT_ID,
    SIMULATED_ACCOUNT_NAME,
    Account,
    AccountsConfigError,
    CollectionWindowError,
    check_collection_window,
    load_accounts,
    parse_accounts,
    parse_regions,
    simulated_account,
    validate_account_id,
)

UTC = dt.timezone.utc
DAY = dt.date(2024, 5, 2)


def parse_yaml(text: str):
    return parse_accounts(yaml.safe_load(text))


def test_parse_a_full_accounts_document():
    accounts = parse_yaml("""
accounts:
  - id: "012345678901"
    name: production
    role_arn: arn:aws:iam::012345678901:role/InventagReadOnly
    external_id: 12345
    regions: [us-east-1, eu-west-1, us-gov-west-1]
    tags: {team: platform, tier: 1}
  - id: "210987654321"
    enabled: false
""")
    assert accounts == [
        Account(id="012345678901", name="production", role_arn="arn:aws:iam::012345678901:role/InventagReadOnly",
                external_id="12345", regions=("us-east-1", "eu-west-1", "us-gov-west-1"), enabled=True,
                simulated=False, tags={"team": "platform", "tier": "1"}),
        Account(id="210987654321", name="210987654321", enabled=False),
    ]


def test_unquoted_numeric_id_is_rejected_with_a_hint_to_quote():
    with pytest.raises(AccountsConfigError) as info:
        parse_yaml("accounts:\n  - id: 123456789012\n")
    message = str(info.value)
    assert "accounts[0]" in message
    assert "123456789012" in message
    assert "quoted" in message


def test_unquoted_leading_zero_id_read_as_octal_is_refused():
    # YAML 1.1 reads 012345670123 as the octal number 1402433619: the id is silently another number.
    assert yaml.safe_load("id: 012345670123") == {"id": 1402433619}
    with pytest.raises(AccountsConfigError, match=r"account id 1402433619 must be a quoted string"):
        parse_yaml("accounts:\n  - id: 012345670123\n")


@pytest.mark.parametrize("bad", ["12345678901", "1234567890123", "12345678901a", "", "1234 5678 901"])
def test_ids_must_be_exactly_twelve_digits(bad):
    with pytest.raises(AccountsConfigError, match=f"account id '{bad}' is not 12 digits"):
        validate_account_id(bad)


def test_validate_account_id_accepts_twelve_digit_strings_and_refuses_non_strings():
    assert validate_account_id("000000000001") == "000000000001"
    with pytest.raises(AccountsConfigError, match="quoted string"):
        validate_account_id(123456789012)
    with pytest.raises(AccountsConfigError, match="not 12 digits"):
        validate_account_id(True)


def test_every_problem_is_reported_at_once():
    data = {
        "accounts": [
            {"id": 123456789012},                                  # 0: unquoted
            {"id": "12345678901"},                                 # 1: 11 digits
            {"id": "1234567890123"},                               # 2: 13 digits
            {"id": "111111111111", "nmae": "typo"},                # 3: unknown key
            {"id": "111111111111"},                                # 4: duplicate
            {"id": "222222222222", "regions": ["us-east-1", "mars-1"]},  # 5: bad region
            {"id": "333333333333", "role_arn": "arn:aws:iam::333333333333:user/bob"},  # 6: bad role ARN
            "not a mapping",                                       # 7
            {"name": "no id"},                                     # 8
        ]
    }
    with pytest.raises(AccountsConfigError) as info:
        parse_accounts(data, source="acc.yaml")
    lines = str(info.value).splitlines()
    assert lines[0] == "invalid accounts configuration:"
    problems = [line.removeprefix("  - ") for line in lines[1:]]
    assert len(problems) == 9
    assert problems[0].startswith("acc.yaml: accounts[0]: account id 123456789012 must be a quoted string")
    assert problems[1] == "acc.yaml: accounts[1]: account id '12345678901' is not 12 digits"
    assert problems[2] == "acc.yaml: accounts[2]: account id '1234567890123' is not 12 digits"
    assert problems[3].startswith("acc.yaml: accounts[3]: unknown key(s) ['nmae']; allowed: ")
    assert problems[4] == "acc.yaml: accounts[4]: account 111111111111 listed twice"
    assert problems[5] == ("acc.yaml: accounts[5]: 'regions' must be a list of region names like us-east-1, got "
                           "['us-east-1', 'mars-1']")
    assert problems[6] == ("acc.yaml: accounts[6]: role_arn 'arn:aws:iam::333333333333:user/bob' is not an IAM "
                           "role ARN")
    assert problems[7] == "acc.yaml: accounts[7]: expected a mapping, got str"
    assert problems[8] == "acc.yaml: accounts[8]: missing 'id'"


@pytest.mark.parametrize("document", [None, [], {"accounts": None}, {"accounts": "x"}, {"other": []}])
def test_top_level_shape_is_checked(document):
    with pytest.raises(AccountsConfigError, match="expected a mapping with an 'accounts:' list at the top"):
        parse_accounts(document)


def test_regions_must_be_a_list():
    with pytest.raises(AccountsConfigError, match="'regions' must be a list"):
        parse_accounts({"accounts": [{"id": "111111111111", "regions": "us-east-1"}]})


@pytest.mark.parametrize(
    "role_arn",
    ["arn:aws:iam::111111111111:role/Read", "arn:aws-us-gov:iam::111111111111:role/path/Read",
     "arn:aws-cn:iam::111111111111:role/R"],
)
def test_valid_role_arns(role_arn):
    assert parse_accounts({"accounts": [{"id": "111111111111", "role_arn": role_arn}]})[0].role_arn == role_arn


def test_id_with_trailing_newline_is_rejected():
    with pytest.raises(AccountsConfigError):
        validate_account_id("123456789012\n")


def test_quoted_false_does_not_enable_an_account():
    try:
        accounts = parse_yaml('accounts:\n  - id: "111111111111"\n    enabled: "false"\n')
    except AccountsConfigError:
        return
    assert accounts[0].enabled is False


def test_tags_must_be_a_mapping():
    with pytest.raises(AccountsConfigError):
        parse_yaml('accounts:\n  - id: "111111111111"\n    tags: [a, b]\n')


def test_every_problem_of_one_entry_is_reported():
    with pytest.raises(AccountsConfigError) as info:
        parse_accounts({"accounts": [{"id": "123", "regions": ["mars-1"], "role_arn": "nope"}]})
    message = str(info.value)
    assert "not 12 digits" in message
    assert "'regions'" in message
    assert "role_arn" in message


def test_load_accounts_without_a_file_is_the_simulated_account():
    expected = [Account(id=SIMULATED_ACCOUNT_ID, name=SIMULATED_ACCOUNT_NAME, simulated=True)]
    assert load_accounts(None) == expected
    assert load_accounts("") == expected
    assert simulated_account() == expected[0]
    assert (SIMULATED_ACCOUNT_ID, SIMULATED_ACCOUNT_NAME) == ("123456789012", "simulated-demo")


def test_load_accounts_from_a_file(tmp_path):
    path = tmp_path / "accounts.yaml"
    path.write_text('accounts:\n  - id: "111111111111"\n    name: dev\n')
    assert load_accounts(path) == [Account(id="111111111111", name="dev")]
    assert load_accounts(str(path)) == [Account(id="111111111111", name="dev")]


def test_problems_name_the_file(tmp_path):
    path = tmp_path / "accounts.yaml"
    path.write_text("accounts:\n  - id: 111111111111\n")
    with pytest.raises(AccountsConfigError) as info:
        load_accounts(path)
    assert f"{path}: accounts[0]: account id 111111111111 must be a quoted string" in str(info.value)


def test_missing_file_message(tmp_path):
    path = tmp_path / "nope.yaml"
    with pytest.raises(AccountsConfigError) as info:
        load_accounts(path)
    assert str(info.value) == f"accounts file '{path}' does not exist (INVENTAG_ACCOUNTS_FILE)"


def test_directory_is_not_a_file(tmp_path):
    with pytest.raises(AccountsConfigError, match="does not exist"):
        load_accounts(tmp_path)


def test_invalid_yaml_message(tmp_path):
    path = tmp_path / "broken.yaml"
    path.write_text("accounts: [\n  - id: '1\n")
    with pytest.raises(AccountsConfigError) as info:
        load_accounts(path)
    assert str(info.value).startswith(f"accounts file '{path}' is not valid YAML: ")


def test_empty_file_is_refused(tmp_path):
    path = tmp_path / "empty.yaml"
    path.write_text("")
    with pytest.raises(AccountsConfigError, match="expected a mapping with an 'accounts:' list"):
        load_accounts(path)


@pytest.mark.parametrize(
    ("value", "expected"),
    [(None, ()), ("", ()), ("us-east-1", ("us-east-1",)), (" us-east-1 , eu-west-1 ,", ("us-east-1", "eu-west-1")),
     (["ap-southeast-2", "cn-north-1"], ("ap-southeast-2", "cn-north-1"))],
)
def test_parse_regions(value, expected):
    assert parse_regions(value) == expected


def test_parse_regions_names_every_bad_region():
    with pytest.raises(AccountsConfigError) as info:
        parse_regions("us-east-1,US-EAST-1,mars,eu-west")
    assert str(info.value) == "not region names: ['US-EAST-1', 'mars', 'eu-west'] (expected e.g. us-east-1,eu-west-1)"


# --- collection window ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "now",
    [
        dt.datetime(2024, 5, 2, 0, 0, tzinfo=UTC),       # the day starts
        dt.datetime(2024, 5, 2, 23, 59, tzinfo=UTC),     # today
        dt.datetime(2024, 5, 3, 12, 0, tzinfo=UTC),      # yesterday's partition, inside the grace
        dt.datetime(2024, 5, 3, 23, 59, 59, tzinfo=UTC),  # last second of the grace
        dt.datetime(2024, 5, 3, 1, 0, tzinfo=dt.timezone(dt.timedelta(hours=2))),  # non-UTC clock
    ],
)
def test_collection_window_allows_the_day_and_its_grace(now):
    assert check_collection_window(DAY, now) is None


def test_collection_window_refuses_older_days_naming_the_date():
    with pytest.raises(CollectionWindowError) as info:
        check_collection_window(DAY, dt.datetime(2024, 5, 4, 0, 0, tzinfo=UTC))
    message = str(info.value)
    assert message.startswith("2024-05-02 can no longer be collected: its window closed at 2024-05-04 00:00 UTC "
                              "(24 h after the day ended).")
    assert "allow_outside_window" in message


def test_collection_window_refuses_future_days():
    with pytest.raises(CollectionWindowError) as info:
        check_collection_window(DAY, dt.datetime(2024, 5, 1, 23, 0, tzinfo=UTC))
    assert str(info.value) == "2024-05-02 has not started yet (now 2024-05-01 23:00 UTC)"


def test_collection_window_grace_is_configurable():
    now = dt.datetime(2024, 5, 3, 7, 0, tzinfo=UTC)
    check_collection_window(DAY, now, grace_hours=8)
    with pytest.raises(CollectionWindowError, match=r"\(6 h after the day ended\)"):
        check_collection_window(DAY, now, grace_hours=6)
    with pytest.raises(CollectionWindowError, match=r"\(0 h after"):
        check_collection_window(DAY, dt.datetime(2024, 5, 3, 0, 0, tzinfo=UTC), grace_hours=0)


def test_organization_block_alone_is_a_valid_accounts_file():
    from inventag_pipeline.core.accounts import OrganizationDiscovery, parse_organization

    doc = {"organization": {"role_name": "Audit", "include_ous": ["ou-ab12-cd34ef56"], "regions": ["eu-west-1"],
                            "exclude_accounts": ["111111111111"], "external_id": 42}}
    assert parse_accounts(doc) == []
    assert parse_organization(doc["organization"]) == OrganizationDiscovery(
        role_name="Audit", external_id="42", include_ous=("ou-ab12-cd34ef56",), exclude_accounts=("111111111111",),
        regions=("eu-west-1",))
    assert parse_organization({"enabled": False}) is None


def test_organization_block_reports_every_problem():
    with pytest.raises(AccountsConfigError) as info:
        parse_accounts({"accounts": [], "organization": {"role_name": "bad name!", "include_ous": ["ou-1"],
                                                         "exclude_accounts": [123], "colour": "blue"}})
    assert str(info.value).splitlines() == [
        "invalid accounts configuration:",
        "  - accounts file: organization: unknown key(s) ['colour']; allowed: ['enabled', 'exclude_accounts', "
        "'external_id', 'include_ous', 'regions', 'role_name']",
        "  - accounts file: organization: role_name 'bad name!' is not an IAM role name",
        "  - accounts file: organization: include_ous must be a list of OU or root ids like ou-ab12-cd34ef56, "
        "got ['ou-1']",
        "  - accounts file: organization: exclude_accounts: account id 123 must be a quoted string of 12 digits "
        "(unquoted YAML numbers lose leading zeros)",
    ]


def test_unknown_top_level_keys_are_refused():
    with pytest.raises(AccountsConfigError) as info:
        parse_accounts({"accounts": [], "acounts": []})
    assert str(info.value) == "accounts file: unknown top-level key(s) ['acounts']; allowed: accounts, organization"
