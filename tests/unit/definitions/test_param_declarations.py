import subprocess
import sys

import pytest

from airlock.definitions.params import Param, ParamsDict, ParamValidationError
from airlock.exceptions import DagDefinitionError


def test_params_dict_reads_values_and_keeps_schemas():
    """Reading a ParamsDict gives values; assigning keeps the declared schema."""
    params = ParamsDict({"n": Param(3, type="integer"), "plain": "x"})
    params["n"] = 5
    assert (params["n"], params["plain"], params.n) == (5, "x", 5)
    assert params.get_param("n").schema == {"type": "integer"}
    assert params.dump() == {"n": 5, "plain": "x"}


def test_validate_names_the_bad_param():
    """validate() checks each value against its schema and names the one that fails."""
    params = ParamsDict({"n": Param(3, type="integer", minimum=1)})
    assert params.validate() == {"n": 3}
    params["n"] = 0
    with pytest.raises(ParamValidationError, match="param 'n': 0: 0 is less than the minimum"):
        params.validate()


def test_a_required_param_has_no_value_until_given():
    """A Param without a default fails resolve() until a value is given."""
    param = Param(type="string")
    with pytest.raises(ParamValidationError, match="no value was given"):
        param.resolve()
    assert param.resolve("x") == "x"
    assert Param(type="string").resolve(suppress_exception=True) is None


def test_a_default_must_be_json_data():
    """A default with no JSON form is refused when the Param is declared."""
    with pytest.raises(DagDefinitionError, match="must be JSON data"):
        Param(object())


def test_schema_keywords_or_a_schema_dict():
    """Schema keywords and an explicit schema dict give the same schema."""
    assert Param(1, type="integer").schema == Param(1, schema={"type": "integer"}).schema


def test_reading_params_does_not_load_jsonschema():
    """Building and reading params (what the runner does) never imports jsonschema."""
    code = (
        "import sys; from airlock.definitions.params import ParamsDict, Param; "
        "p = ParamsDict({'a': Param(1, type='integer')}); p['a'] = 2; print(p['a']); "
        "print('jsonschema' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["2", "False"]
