from airlock.definitions.trigger_rule import TriggerRule

AIRFLOW_3_RULES = {
    "all_success",
    "all_failed",
    "all_done",
    "all_done_min_one_success",
    "all_done_setup_success",
    "all_skipped",
    "one_success",
    "one_failed",
    "one_done",
    "none_failed",
    "none_failed_min_one_success",
    "none_skipped",
    "always",
}


def test_trigger_rules_match_airflow_3():
    """Every trigger rule Airflow 3 knows exists under the same string value."""
    assert TriggerRule.all_triggers() == AIRFLOW_3_RULES


def test_trigger_rule_compares_equal_to_its_string():
    """A TriggerRule equals its plain string, so DAG files may use either form."""
    assert TriggerRule.ONE_FAILED == "one_failed"
    assert TriggerRule.is_valid("none_skipped")
    assert not TriggerRule.is_valid("dummy")
