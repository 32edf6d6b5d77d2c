"""SSM Automation on the emulator: the execution APIs moto lacks, and document validation.

- ``StartAutomationExecution``, ``GetAutomationExecution``, ``DescribeAutomationExecutions``,
  ``DescribeAutomationStepExecutions``, ``StopAutomationExecution`` and ``SendAutomationSignal``
  (Approve, Reject, Resume) with AWS's shapes and statuses; executions run in background threads
  in the region they were started in (:mod:`drlib.emulator.automation.engine`) and call that
  region's APIs through boto3 against the emulator's own endpoint.
- ``CreateDocument`` / ``UpdateDocument`` (and so ``AWS::SSM::Document``) of an Automation
  document validate its content (:mod:`drlib.emulator.automation.validation`) and refuse a bad one
  with ``InvalidDocumentContent`` naming the step; a stack with a bad runbook fails with that
  message.
- While a region is down (``faults.region_down``) its Automation APIs answer HTTP 503
  ``ServiceUnavailable`` and its executions make no progress.

- ``TargetLocations`` (accounts x Regions) and rate control (``Targets`` ``ParameterValues`` with
  ``TargetParameterName``) with concurrency and error thresholds: a parent execution and one child
  per target in its own account and Region (:mod:`drlib.emulator.automation.fanout`); another
  account is moto's backend of that account ID (requests carry ``x-moto-account-id``).
  ``TargetMaps``, ``TargetLocationsURL``, tag or resource-group targets, organizational units and
  ``aws:executeAutomation`` are not emulated and are refused with a message saying so.
"""

from __future__ import annotations

import json
import logging
import os
import threading
from datetime import UTC, datetime
from typing import Any

from drlib.emulator import control, faults, state
from drlib.emulator.automation import actions, engine, fanout
from drlib.emulator.automation.validation import (
    InvalidContent,
    parse_content,
    validate_automation,
)
from drlib.emulator.extensions.region_outage import outage_message
from drlib.emulator.lazy_patch import when_imported

log = logging.getLogger(__name__)

_executions: dict[tuple[str, str], dict[str, engine.Execution | fanout.ParentExecution]] = {}
_lock = threading.RLock()
_clients: dict[tuple[str, str, str, str], Any] = {}
ACCOUNT_HEADER = "x-moto-account-id"


def _error(code: str, message: str) -> Exception:
    from moto.ssm.exceptions import SSMException

    return SSMException(code, message)


# --- AWS clients for the executions ------------------------------------------------------------

def client_for(service: str, region: str, account_id: str | None = None) -> Any:
    """A boto3 client of ``service`` in ``region`` against this emulator (cached); with
    ``account_id``, every request is made in that account (moto's ``x-moto-account-id``)."""
    from botocore.config import Config

    from drlib.aws import new_session

    key = (service, region, state.current.endpoint_url or "", account_id or "")
    with _lock:
        if key not in _clients:
            session = new_session(aws_access_key_id="testing", aws_secret_access_key="testing",
                                  region_name=region)
            client = session.client(
                service, endpoint_url=state.current.endpoint_url,
                config=Config(retries={"max_attempts": 2, "mode": "standard"},
                              read_timeout=120, connect_timeout=5))
            if account_id:
                def in_account(request: Any, **_: Any) -> None:
                    request.headers[ACCOUNT_HEADER] = account_id

                client.meta.events.register("before-sign.*.*", in_account)
            _clients[key] = client
        return _clients[key]


def script_environment(region: str, account_id: str | None = None) -> dict[str, str]:
    """The environment of an aws:executeScript child: this emulator, the execution's region
    (and account, which the child's default boto3 session sends)."""
    environment = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    environment.pop("DRLIB_EMULATOR_ACCOUNT_ID", None)
    environment.update({
        "AWS_ENDPOINT_URL": state.current.endpoint_url or "",
        "AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_REGION": region, "AWS_DEFAULT_REGION": region,
    })
    if account_id:
        environment["DRLIB_EMULATOR_ACCOUNT_ID"] = account_id
    return environment


# --- documents ---------------------------------------------------------------------------------

def check_automation_content(content: Any, document_format: str | None) -> None:
    """Raise moto's InvalidDocumentContent when Automation content is not valid."""
    from moto.ssm.exceptions import InvalidDocumentContent

    try:
        validate_automation(parse_content(content, document_format))
    except InvalidContent as exc:
        raise InvalidDocumentContent(str(exc)) from exc


def _validating_create(original: Any) -> Any:
    def create_document(self: Any, **kwargs: Any) -> Any:
        if kwargs.get("document_type") == "Automation":
            check_automation_content(kwargs.get("content"), kwargs.get("document_format"))
        return original(self, **kwargs)

    return create_document


def _validating_update(original: Any) -> Any:
    def update_document(self: Any, **kwargs: Any) -> Any:
        documents = self._documents.get(kwargs.get("name"))
        if documents is not None and \
                documents.get_default_version().document_type == "Automation":
            check_automation_content(kwargs.get("content"), kwargs.get("document_format"))
        return original(self, **kwargs)

    return update_document


def _document(account_id: str, region: str, name: str, version: str | None) -> Any:
    from moto.ssm.exceptions import InvalidDocument
    from moto.ssm.models import ssm_backends

    try:
        documents = ssm_backends[account_id][region]._get_documents(name)
    except InvalidDocument as exc:
        raise _error("AutomationDefinitionNotFoundException",
                     f"Automation definition {name} does not exist in {region}.") from exc
    found: Any
    if version in (None, "", "$DEFAULT"):
        found = documents.get_default_version()
    elif version == "$LATEST":
        found = documents.get_latest_version()
    else:
        found = documents.find_by_version(version)
    if found is None:
        raise _error("AutomationDefinitionVersionNotFoundException",
                     f"Automation definition {name}:{version} does not exist.")
    if found.document_type != "Automation":
        raise _error("InvalidAutomationExecutionParametersException",
                     f"Document {name} is a {found.document_type} document, not Automation.")
    return found


# --- executions --------------------------------------------------------------------------------

def start_execution(account_id: str, region: str, name: str, version: str | None,
                    parameters: dict[str, list[str]], *, parent: str | None = None,
                    target: str | None = None) -> engine.Execution:
    """Create and start an execution of ``name`` in ``region`` (a child of ``parent``)."""
    from moto.core import DEFAULT_ACCOUNT_ID

    found = _document(account_id, region, name, version)
    document = validate_automation(parse_content(found.content, found.document_format))
    try:
        typed = engine.typed_parameters(document, parameters)
    except engine.ParameterError as exc:
        raise _error("InvalidAutomationExecutionParametersException", str(exc)) from exc
    other = None if account_id == DEFAULT_ACCOUNT_ID else account_id

    def clients(service: str, in_region: str) -> Any:
        return client_for(service, in_region, other)

    execution = engine.Execution(
        execution_id=engine.new_execution_id(), document_name=name,
        document_version=str(found.document_version), document=document,
        account_id=account_id, region=region, parameters=typed,
        executed_by=f"arn:aws:iam::{account_id}:root", client_factory=clients,
        environment=script_environment(region, other), region_down=faults.region_down,
        parent_execution_id=parent, target=target)
    with _lock:
        _executions.setdefault((account_id, region), {})[execution.execution_id] = execution
    execution.start_running()
    log.info("automation %s of %s started in %s", execution.execution_id, name, region)
    return execution


def start_parent(account_id: str, region: str, request: dict[str, Any]
                 ) -> fanout.ParentExecution:
    """Create and start a multi-account/multi-Region or rate-controlled parent execution."""
    from moto.ssm.models import ssm_backends

    name = request["DocumentName"]
    found = _document(account_id, region, name, request.get("DocumentVersion"))
    try:
        groups = fanout.plan(request, account_id, region,
                             lambda r: r in ssm_backends[account_id].regions)
    except fanout.FanOutError as exc:
        raise _error("InvalidAutomationExecutionParametersException", str(exc)) from exc
    execution_id = engine.new_execution_id()

    def start_child(child: fanout.Child, parent: str) -> engine.Execution:
        if faults.region_down(child.region):
            raise RuntimeError(outage_message(child.region))
        return start_execution(child.account_id, child.region, name,
                               request.get("DocumentVersion"), child.parameters,
                               parent=parent, target=child.target)

    execution = fanout.ParentExecution(
        execution_id=execution_id, document_name=name,
        document_version=str(found.document_version), account_id=account_id, region=region,
        executed_by=f"arn:aws:iam::{account_id}:root",
        parameters=dict(request.get("Parameters") or {}), groups=groups,
        start_child=start_child, request=request)
    with _lock:
        _executions.setdefault((account_id, region), {})[execution_id] = execution
    execution.start_running()
    log.info("automation parent %s of %s started in %s: %d targets", execution_id, name, region,
             len(execution.children))
    return execution


def find_execution(account_id: str, region: str, execution_id: str
                   ) -> engine.Execution | fanout.ParentExecution:
    """The execution with this id in this region, or AWS's not-found error."""
    with _lock:
        execution = _executions.get((account_id, region), {}).get(execution_id)
    if execution is None:
        raise _error("AutomationExecutionNotFoundException",
                     f"Automation execution {execution_id} does not exist in {region}.")
    return execution


def executions_in(account_id: str, region: str
                  ) -> list[engine.Execution | fanout.ParentExecution]:
    """Every execution of the region, newest first."""
    with _lock:
        found = list(_executions.get((account_id, region), {}).values())
    return sorted(found, key=lambda e: e.start, reverse=True)


def _time(value: Any) -> datetime:
    if isinstance(value, (int, float)):
        return datetime.fromtimestamp(value, UTC)
    return datetime.fromisoformat(str(value).replace("Z", "+00:00"))


def execution_matches(execution: engine.Execution | fanout.ParentExecution,
                      filters: list[dict[str, Any]]) -> bool:
    """Whether an execution passes every DescribeAutomationExecutions filter."""
    for item in filters:
        key, values = item["Key"], [str(v) for v in item["Values"]]
        if key == "DocumentNamePrefix":
            ok = any(execution.document_name.startswith(v) for v in values)
        elif key == "ExecutionStatus":
            ok = execution.status in values
        elif key == "ExecutionId":
            ok = execution.execution_id in values
        elif key == "StartTimeBefore":
            ok = execution.start <= _time(values[0])
        elif key == "StartTimeAfter":
            ok = execution.start >= _time(values[0])
        elif key == "AutomationType":
            ok = execution.metadata()["AutomationType"] in values
        elif key == "ParentExecutionId":
            ok = getattr(execution, "parent_execution_id", None) in values
        else:
            raise _error("InvalidFilterKey", f"Filter key {key} is not supported by the drlib "
                                             "emulator for DescribeAutomationExecutions.")
        if not ok:
            return False
    return True


def step_matches(record: dict[str, Any], filters: list[dict[str, Any]]) -> bool:
    """Whether a step execution passes every DescribeAutomationStepExecutions filter."""
    fields = {"StepExecutionStatus": "StepStatus", "StepName": "StepName",
              "Action": "Action", "StepExecutionId": "StepExecutionId"}
    for item in filters:
        key, values = item["Key"], [str(v) for v in item["Values"]]
        if key in fields:
            ok = str(record.get(fields[key])) in values
        elif key in ("StartTimeBefore", "StartTimeAfter"):
            started = record.get("ExecutionStartTime")
            bound = _time(values[0]).timestamp()
            ok = started is not None and (started <= bound if key == "StartTimeBefore"
                                          else started >= bound)
        else:
            raise _error("InvalidFilterKey", f"Filter key {key} is not valid for "
                                             "DescribeAutomationStepExecutions.")
        if not ok:
            return False
    return True


def _page(items: list[Any], max_results: Any, token: Any) -> tuple[list[Any], str | None]:
    start = int(token or 0)
    size = int(max_results or 50)
    end = start + size
    return items[start:end], (str(end) if end < len(items) else None)


def _reset() -> None:
    with _lock:
        every = [e for region in _executions.values() for e in region.values()]
        _executions.clear()
    for execution in every:
        execution.cancelled.set()


# --- moto wiring -------------------------------------------------------------------------------

def _refused(region: str) -> tuple[int, dict[str, str], str]:
    body = json.dumps({"__type": "ServiceUnavailable", "message": outage_message(region)})
    return 503, {"Content-Type": "application/x-amz-json-1.1", "status": "503"}, body


def _handlers() -> dict[str, Any]:
    def start_automation_execution(self: Any) -> Any:
        if faults.region_down(self.region):
            return _refused(self.region)
        for unsupported in ("TargetMaps", "TargetLocationsURL"):
            if self._get_param(unsupported):
                raise _error("InvalidAutomationExecutionParametersException",
                             f"{unsupported} is not supported by the drlib emulator "
                             "(TargetLocations and Targets with ParameterValues are).")
        if self._get_param("TargetLocations") or self._get_param("Targets"):
            request = {key: self._get_param(key) for key in (
                "DocumentName", "DocumentVersion", "Parameters", "TargetLocations", "Targets",
                "TargetParameterName", "MaxConcurrency", "MaxErrors")}
            parent = start_parent(self.current_account, self.region, request)
            return json.dumps({"AutomationExecutionId": parent.execution_id})
        execution = start_execution(self.current_account, self.region,
                                    self._get_param("DocumentName"),
                                    self._get_param("DocumentVersion"),
                                    self._get_param("Parameters") or {})
        return json.dumps({"AutomationExecutionId": execution.execution_id})

    def get_automation_execution(self: Any) -> Any:
        if faults.region_down(self.region):
            return _refused(self.region)
        execution = find_execution(self.current_account, self.region,
                                   self._get_param("AutomationExecutionId"))
        return json.dumps({"AutomationExecution": execution.to_api()})

    def describe_automation_executions(self: Any) -> Any:
        if faults.region_down(self.region):
            return _refused(self.region)
        filters = self._get_param("Filters") or []
        found = [e.metadata() for e in executions_in(self.current_account, self.region)
                 if execution_matches(e, filters)]
        page, token = _page(found, self._get_param("MaxResults"), self._get_param("NextToken"))
        answer: dict[str, Any] = {"AutomationExecutionMetadataList": page}
        if token:
            answer["NextToken"] = token
        return json.dumps(answer)

    def describe_automation_step_executions(self: Any) -> Any:
        if faults.region_down(self.region):
            return _refused(self.region)
        execution = find_execution(self.current_account, self.region,
                                   self._get_param("AutomationExecutionId"))
        filters = self._get_param("Filters") or []
        steps = [s for s in execution.to_api()["StepExecutions"] if step_matches(s, filters)]
        if self._get_param("ReverseOrder"):
            steps.reverse()
        page, token = _page(steps, self._get_param("MaxResults"), self._get_param("NextToken"))
        answer: dict[str, Any] = {"StepExecutions": page}
        if token:
            answer["NextToken"] = token
        return json.dumps(answer)

    def stop_automation_execution(self: Any) -> Any:
        if faults.region_down(self.region):
            return _refused(self.region)
        execution = find_execution(self.current_account, self.region,
                                   self._get_param("AutomationExecutionId"))
        if self._get_param("Type", "Cancel") != "Cancel":
            raise _error("InvalidAutomationStatusUpdateException",
                         "Only Type Cancel is supported by the drlib emulator (Complete "
                         "applies to rate-controlled executions).")
        try:
            execution.stop()
        except ValueError as exc:
            raise _error("InvalidAutomationStatusUpdateException", str(exc)) from exc
        return json.dumps({})

    def send_automation_signal(self: Any) -> Any:
        if faults.region_down(self.region):
            return _refused(self.region)
        execution = find_execution(self.current_account, self.region,
                                   self._get_param("AutomationExecutionId"))
        signal_type = self._get_param("SignalType")
        if signal_type not in ("Approve", "Reject", "Resume"):
            raise _error("InvalidAutomationSignalException",
                         f"Signal {signal_type} is not supported by the drlib emulator "
                         "(Approve, Reject and Resume are).")
        try:
            execution.signal(actions.Signal(
                signal_type=signal_type, payload=self._get_param("Payload") or {},
                sender=f"arn:aws:iam::{self.current_account}:root"))
        except ValueError as exc:
            raise _error("InvalidAutomationSignalException", str(exc)) from exc
        return json.dumps({})

    return {f.__name__: f for f in (
        start_automation_execution, get_automation_execution, describe_automation_executions,
        describe_automation_step_executions, stop_automation_execution,
        send_automation_signal)}


def _validating_stack_update(original: Any) -> Any:
    def update_from_cloudformation_json(cls: Any, original_resource: Any, new_resource_name: str,
                                        cloudformation_json: Any, account_id: str,
                                        region_name: str) -> Any:
        # moto deletes the old document before creating the new one; refuse bad content first,
        # so a failed update keeps the document CloudFormation would keep.
        properties = cloudformation_json.get("Properties") or {}
        if properties.get("DocumentType") == "Automation":
            check_automation_content(properties.get("Content"),
                                     properties.get("DocumentFormat", "JSON"))
        return original.__func__(cls, original_resource, new_resource_name, cloudformation_json,
                                 account_id, region_name)

    return classmethod(update_from_cloudformation_json)


def _patch_backend() -> None:
    from moto.ssm.models import Document, SimpleSystemManagerBackend

    Document.update_from_cloudformation_json = _validating_stack_update(  # type: ignore[method-assign]
        Document.update_from_cloudformation_json)

    SimpleSystemManagerBackend.create_document = _validating_create(  # type: ignore[method-assign]
        SimpleSystemManagerBackend.create_document)
    SimpleSystemManagerBackend.update_document = _validating_update(  # type: ignore[method-assign]
        SimpleSystemManagerBackend.update_document)


def _patch_responses() -> None:
    from moto.ssm.responses import SimpleSystemManagerResponse

    for name, handler in _handlers().items():
        setattr(SimpleSystemManagerResponse, name, handler)


_installed = False


def install() -> None:
    """Add the Automation execution APIs to moto's SSM and validate Automation documents (when
    moto loads its SSM modules)."""
    global _installed
    if _installed:
        return
    when_imported("moto.ssm.models", _patch_backend)
    when_imported("moto.ssm.responses", _patch_responses)
    control.on_reset(_reset)
    control.on_shutdown(_reset)
    _installed = True
