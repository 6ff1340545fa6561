"""The queue message contracts: CompilationJob and CompilationResult round-trip as JSON."""

from __future__ import annotations

import base64
import json
import uuid

import pytest

from contracts.compilation import CONTRACT, CompilationJob, CompilationResult, NewerContract

FID, TID = uuid.uuid4(), uuid.uuid4()


def job() -> CompilationJob:
    return CompilationJob(function_id=FID, tenant_id=TID, language="assemblyscript", source="src", version=3)


def test_job_json_has_the_seed_fields_in_camel_case():
    data = job().to_json()
    assert data == {
        "contract": CONTRACT,
        "functionId": str(FID),
        "tenantId": str(TID),
        "language": "assemblyscript",
        "source": "src",
        "version": 3,
    }
    assert CompilationJob.from_json(json.loads(json.dumps(data))) == job()


@pytest.mark.parametrize(
    "broken",
    [
        {"functionId": "not-a-uuid"},
        {"version": "three"},
        {"tenantId": None},
    ],
)
def test_malformed_job_raises_a_parse_error(broken):
    data = {**job().to_json(), **broken}
    with pytest.raises((KeyError, ValueError, TypeError)):
        CompilationJob.from_json(data)


def test_job_without_a_field_raises_key_error():
    data = job().to_json()
    del data["source"]
    with pytest.raises(KeyError):
        CompilationJob.from_json(data)


def test_success_result_carries_the_binary_as_base64():
    binary = b"\0asm\x01\0\0\0"
    result = CompilationResult(
        function_id=FID, tenant_id=TID, success=True, wasm_binary=binary, error=None, version=2
    )
    data = result.to_json()
    assert data["wasmBinary"] == base64.b64encode(binary).decode()
    assert data["error"] is None
    assert data["success"] is True
    assert CompilationResult.from_json(json.loads(json.dumps(data))) == result


def test_failure_result_carries_the_error():
    result = CompilationResult(
        function_id=FID, tenant_id=TID, success=False, wasm_binary=None, error="ERROR at 1:2", version=1
    )
    data = result.to_json()
    assert data["wasmBinary"] is None
    assert CompilationResult.from_json(data) == result


def test_a_success_needs_a_binary_and_a_failure_an_error():
    with pytest.raises(ValueError, match="binary"):
        CompilationResult(
            function_id=FID, tenant_id=TID, success=True, wasm_binary=None, error=None, version=1
        )
    with pytest.raises(ValueError, match="error"):
        CompilationResult(
            function_id=FID, tenant_id=TID, success=False, wasm_binary=None, error="", version=1
        )


def test_result_with_bad_base64_is_malformed():
    data = {
        "contract": CONTRACT,
        "functionId": str(FID),
        "tenantId": str(TID),
        "success": True,
        "wasmBinary": "!!not base64!!",
        "error": None,
        "version": 1,
    }
    with pytest.raises(ValueError):
        CompilationResult.from_json(data)


def test_values_are_frozen():
    with pytest.raises(AttributeError):
        job().version = 4  # type: ignore[misc]


@pytest.mark.parametrize("flag", ["false", "true", 1, None])
def test_result_success_must_be_a_boolean(flag):
    data = CompilationResult(
        function_id=FID, tenant_id=TID, success=False, wasm_binary=None, error="boom", version=1
    ).to_json()
    data["success"] = flag
    with pytest.raises(TypeError, match="success"):
        CompilationResult.from_json(data)


@pytest.mark.parametrize("cls", [CompilationJob, CompilationResult])
def test_a_message_of_a_newer_contract_is_left_for_a_newer_release(cls):
    data = {**job().to_json(), "success": False, "error": "x", "contract": CONTRACT + 1}
    with pytest.raises(NewerContract):
        cls.from_json(data)


@pytest.mark.parametrize("contract", ["2", 0, True, None])
def test_a_contract_that_is_not_a_positive_integer_is_malformed(contract):
    with pytest.raises(ValueError):
        CompilationJob.from_json({**job().to_json(), "contract": contract})


# What the previous releases queued (contracts 1 and 2): the version under its old name; a rolling
# upgrade must not lose one of them.
OLD_NAME = "revision"  # codemod: keep


@pytest.mark.parametrize("contract", [None, 1, 2])
def test_a_job_of_an_older_contract_is_read_with_its_version_under_the_old_name(contract):
    data = {k: v for k, v in job().to_json().items() if k not in ("contract", "version")}
    data = {**data, OLD_NAME: 3, **({"contract": contract} if contract else {})}
    assert CompilationJob.from_json(data) == job()


@pytest.mark.parametrize("contract", [None, 1, 2])
def test_a_result_of_an_older_contract_is_read_with_its_version_under_the_old_name(contract):
    result = CompilationResult(
        function_id=FID, tenant_id=TID, success=False, wasm_binary=None, error="boom", version=7
    )
    data = {k: v for k, v in result.to_json().items() if k not in ("contract", "version")}
    data = {**data, OLD_NAME: 7, **({"contract": contract} if contract else {})}
    assert CompilationResult.from_json(data) == result


def test_each_contract_has_one_name_for_the_version():
    current = job().to_json()
    assert OLD_NAME not in current
    with pytest.raises(KeyError):  # contract 3 says `version` only
        CompilationJob.from_json({**{k: v for k, v in current.items() if k != "version"}, OLD_NAME: 3})
    with pytest.raises(KeyError):  # contract 2 says the old name only
        CompilationJob.from_json({**current, "contract": 2})
