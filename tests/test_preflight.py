"""Preflight: every bad setting refused at once, naming file and key, before anything changes."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from drlib.aws import AwsClients
from drlib.cli import main
from drlib.emulator.server import Emulator
from drlib.errors import ConfigError
from drlib.preflight import KEY_RULES, PASSWORD_VARIABLE, SettingsError, check_settings
from drlib.stacks import DEFAULT_PROJECT_DIR, read_var_file

DEV_VARS = DEFAULT_PROJECT_DIR / "vars" / "dev.yaml"


def _dev() -> dict[str, Any]:
    return dict(yaml.safe_load(DEV_VARS.read_text()))


def _set(**changes: Any) -> Callable[[dict[str, Any]], None]:
    def change(variables: dict[str, Any]) -> None:
        variables.update(changes)
    return change


def _drop(key: str) -> Callable[[dict[str, Any]], None]:
    def change(variables: dict[str, Any]) -> None:
        del variables[key]
    return change


# (case, change to dev's var file, the key the problem must name, words the 'found' must hold)
BAD_SETTINGS = [
    ("octet over 255", _set(primary_vpc_cidr="10.300.0.0/16"), "primary_vpc_cidr", "300"),
    ("overlapping ranges", _set(primary_vpc_cidr="10.10.0.0/16",
                                secondary_vpc_cidr="10.10.0.0/17"), "secondary_vpc_cidr",
     "overlaps"),
    ("same region twice", _set(secondary_region="us-east-1"), "secondary_region",
     "same region"),
    ("missing key", _drop("company_name"), "company_name", "missing"),
    ("host bits set", _set(primary_vpc_cidr="10.10.0.5/16"), "primary_vpc_cidr", "host bits"),
    ("range too small for six /24 subnets", _set(secondary_vpc_cidr="10.20.0.0/24"),
     "secondary_vpc_cidr", "/24"),
    ("public range", _set(primary_vpc_cidr="8.8.0.0/16"), "primary_vpc_cidr", "not a private"),
    ("unknown region", _set(primary_region="us-east-7"), "primary_region", "not an AWS region"),
    ("desired above max", _set(primary_asg_desired=9), "primary_asg_desired", "desired 9"),
    ("standby cannot take the load", _set(secondary_asg_max=1, secondary_asg_desired=1),
     "secondary_asg_max", "below primary_asg_desired"),
    ("health-check interval Route 53 does not offer", _set(health_check_interval=15),
     "health_check_interval", "15"),
    ("log retention CloudWatch does not offer", _set(log_retention_days=8),
     "log_retention_days", "8"),
    ("boolean written as text", _set(deletion_protection="yes"), "deletion_protection", "yes"),
    ("misspelt optional key", _set(primary_certifcate_arn="arn"), "primary_certifcate_arn",
     "unknown key"),
    ("var file of another environment", _set(environment="prod"), "environment", "prod"),
    ("peer range overlap", _set(peer_cidrs=["10.20.128.0/20"]), "secondary_vpc_cidr",
     "peer range"),
    ("Aurora backup retention over 35 days", _set(db_backup_retention_days=40),
     "db_backup_retention_days", "40"),
    ("no secondary database instance", _set(secondary_db_instance_count=0),
     "secondary_db_instance_count", "0"),
    ("count written as text", _set(primary_asg_min="2"), "primary_asg_min", "not a whole"),
    ("runbook approver that is not an IAM ARN", _set(runbook_approvers="ops-team"),
     "runbook_approvers", "ops-team"),
]


@pytest.mark.parametrize(("change", "key", "found"), [c[1:] for c in BAD_SETTINGS],
                         ids=[c[0] for c in BAD_SETTINGS])
def test_each_bad_setting_names_file_key_and_cause(change: Callable[[dict[str, Any]], None],
                                                   key: str, found: str) -> None:
    """Each bad setting is one problem naming the var file and the key, with what was found,
    what is expected and a fix."""
    variables = _dev()
    change(variables)
    problems = check_settings(variables, "sceptre/vars/dev.yaml", "dev", environ={})
    assert problems, "the bad setting was not caught"
    named = [p for p in problems if p.where == f"sceptre/vars/dev.yaml: key {key}"]
    assert named, [p.where for p in problems]
    assert found in named[0].found
    assert named[0].expected
    assert named[0].fix


CERTIFICATES = {key: f"arn:aws:acm:{region}:123456789012:certificate/0000-1111"
                for key, region in (("primary_certificate_arn", "us-east-1"),
                                    ("secondary_certificate_arn", "us-west-2"))}


def test_the_shipped_environments_pass_once_staging_and_prod_have_certificates() -> None:
    """dev as committed has no problem; staging and prod ship without certificate ARNs, which
    are refused by name until given."""
    dev = DEFAULT_PROJECT_DIR / "vars" / "dev.yaml"
    assert check_settings(read_var_file(dev), dev, "dev", environ={}) == []
    for environment in ("staging", "prod"):
        path = DEFAULT_PROJECT_DIR / "vars" / f"{environment}.yaml"
        variables = read_var_file(path)
        refused = check_settings(variables, path, environment, environ={})
        assert sorted(p.where.rsplit(" ", 1)[-1] for p in refused) == sorted(CERTIFICATES)
        assert check_settings({**variables, **CERTIFICATES}, path, environment,
                              environ={}) == []


def test_every_problem_is_reported_at_once() -> None:
    """Several bad settings give one error listing all of them."""
    variables = _dev()
    variables.update(primary_vpc_cidr="10.300.0.0/16", secondary_region="us-east-1")
    del variables["company_name"]
    problems = check_settings(variables, "v.yaml", "dev", environ={})
    error = SettingsError("environment dev", problems)
    text = error.render()
    assert text.startswith("3 bad settings for environment dev; nothing was started")
    for key in ("primary_vpc_cidr", "secondary_region", "company_name"):
        assert f"v.yaml: key {key}" in text


@pytest.mark.parametrize(("password", "found"), [
    ("abc12", "5 characters"),
    ("abcdefgh@ijklmn", "1 character outside the allowed set"),
    ("a" * 65, "65 characters"),
    ("with space and/slash", "3 characters outside"),
])
def test_a_bad_master_password_is_refused_without_echoing_it(password: str, found: str) -> None:
    """The password's length and characters are checked; the message never contains it."""
    problems = check_settings(_dev(), "v.yaml", "dev", environ={PASSWORD_VARIABLE: password})
    assert len(problems) == 1
    assert problems[0].where == f"environment variable {PASSWORD_VARIABLE}"
    assert found in problems[0].found
    assert password not in SettingsError("x", problems).render()


def test_a_good_or_absent_password_passes() -> None:
    """An empty, unset or well-formed password is fine (empty: Secrets Manager generates one)."""
    for environ in ({}, {PASSWORD_VARIABLE: ""}, {PASSWORD_VARIABLE: "Abcdef123456!#"}):
        assert check_settings(_dev(), "v.yaml", "dev", environ=environ) == []


def test_a_corrupt_var_file_names_itself_and_the_line(tmp_path: Path) -> None:
    """A YAML error says which file and which line, not '<unicode string>'."""
    path = tmp_path / "dev.yaml"
    path.write_text("environment: dev\ncompany_name: [acme\nprimary_region: us-east-1\n")
    with pytest.raises(ConfigError) as caught:
        read_var_file(path)
    text = caught.value.render()
    assert str(path) in text
    assert "line" in text
    assert "<unicode string>" not in text


def test_every_var_key_the_sceptre_config_uses_has_a_rule() -> None:
    """The rules cover every `var.<key>` in sceptre/config; keys used without a default there
    are required."""
    used: dict[str, bool] = {}
    for config in (DEFAULT_PROJECT_DIR / "config").rglob("*.yaml"):
        text = config.read_text()
        for match in re.finditer(r"var\.(\w+)(\s*\|\s*default)?", text):
            key, defaulted = match.group(1), bool(match.group(2))
            used[key] = used.get(key, False) or not defaulted
    used.pop("python", None)  # an old key, no longer read
    assert set(used) <= set(KEY_RULES), set(used) - set(KEY_RULES)
    for key, required_somewhere in used.items():
        if required_somewhere and key not in ("primary_profile", "secondary_profile"):
            assert KEY_RULES[key].required, key


# --- the commands: exit 2, one message, nothing started or changed ------------------------------

def _project_copy(tmp_path: Path, change: Callable[[dict[str, Any]], None]) -> Path:
    """A copy of the Sceptre project whose dev var file has ``change`` applied."""
    project = tmp_path / "sceptre"
    shutil.copytree(DEFAULT_PROJECT_DIR, project, ignore=shutil.ignore_patterns(".build"))
    variables = _dev()
    change(variables)
    (project / "vars" / "dev.yaml").write_text(yaml.safe_dump(variables, sort_keys=False))
    return project


def _no_emulator_may_start(monkeypatch: pytest.MonkeyPatch) -> None:
    import drlib.runner

    def refuse(request: Any) -> Any:
        raise AssertionError("the emulator was started despite bad settings")
    monkeypatch.setattr(drlib.runner, "_local_emulator", refuse)


@pytest.mark.parametrize(("change", "key", "found"), [c[1:] for c in BAD_SETTINGS[:4]],
                         ids=[c[0] for c in BAD_SETTINGS[:4]])
def test_drill_with_a_bad_setting_exits_2_before_anything_starts(
        change: Callable[[dict[str, Any]], None], key: str, found: str, tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    """`drlib drill` refuses bad settings with exit 2 and one message naming file and key: no
    emulator, no run folder, no notebook."""
    monkeypatch.setenv("DRLIB_SCEPTRE_DIR", str(_project_copy(tmp_path, change)))
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    _no_emulator_may_start(monkeypatch)
    outputs = tmp_path / "outputs"
    assert main(["drill", "--outputs", str(outputs)]) == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err
    assert err.count("drlib: error:") == 1
    assert f"dev.yaml: key {key}" in err
    assert not outputs.exists() or not any(outputs.iterdir())


def test_drill_into_a_file_exits_2(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                   capsys: pytest.CaptureFixture[str]) -> None:
    """--outputs naming a file is bad input (exit 2), not a traceback with exit 1."""
    _no_emulator_may_start(monkeypatch)
    target = tmp_path / "a-file"
    target.write_text("")
    assert main(["drill", "--outputs", str(target)]) == 2
    err = capsys.readouterr().err
    assert "--outputs" in err
    assert "is a file" in err


def test_drill_on_aws_without_credentials_is_refused_before_the_chain(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    """--target aws with no credentials: exit 2 naming both regions; no run folder, no
    failback."""
    for name in ("AWS_ENDPOINT_URL", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY",
                 "AWS_SESSION_TOKEN", "AWS_PROFILE", "DRLIB_AWS_PROFILE_PRIMARY",
                 "DRLIB_AWS_PROFILE_SECONDARY"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    outputs = tmp_path / "outputs"
    assert main(["drill", "--target", "aws", "--outputs", str(outputs)]) == 2
    err = capsys.readouterr().err
    assert "credentials in us-east-1" in err
    assert "credentials in us-west-2" in err
    assert not outputs.exists() or not any(outputs.iterdir())


def test_drill_on_aws_with_an_emulator_endpoint_is_refused(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    """--target aws while AWS_ENDPOINT_URL points elsewhere would drill the wrong thing."""
    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:1")
    assert main(["drill", "--target", "aws", "--outputs", str(tmp_path / "o")]) == 2
    assert "AWS_ENDPOINT_URL" in capsys.readouterr().err


def _stacks_in(aws: AwsClients) -> list[str]:
    names = []
    for region in ("us-east-1", "us-west-2"):
        for stack in aws.client("cloudformation", region).list_stacks()["StackSummaries"]:
            if stack["StackStatus"] != "DELETE_COMPLETE":
                names.append(stack["StackName"])
    return names


def test_stacks_launch_with_a_bad_setting_deploys_nothing(
        aws: AwsClients, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    """`drlib stacks launch` with overlapping ranges exits 2 and the emulator has no stack."""
    monkeypatch.setenv("DRLIB_SCEPTRE_DIR", str(_project_copy(tmp_path, BAD_SETTINGS[1][1])))
    assert main(["stacks", "launch", "--env", "dev"]) == 2
    assert "dev.yaml: key secondary_vpc_cidr" in capsys.readouterr().err
    assert _stacks_in(aws) == []


def test_stacks_launch_with_a_bad_password_deploys_nothing(
        aws: AwsClients, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    """A 5-character master password is refused before the first stack, not by CloudFormation
    20 s into the deploy."""
    monkeypatch.setenv(PASSWORD_VARIABLE, "ab@12")
    assert main(["stacks", "launch", "--env", "dev"]) == 2
    err = capsys.readouterr().err
    assert PASSWORD_VARIABLE in err
    assert "ab@12" not in err
    assert _stacks_in(aws) == []


@pytest.mark.slow
def test_sceptre_launch_by_hand_refuses_bad_settings_before_the_first_stack(
        aws: AwsClients, emulator: Emulator, tmp_path: Path) -> None:
    """`.venv/bin/sceptre launch` by hand runs the same rules (the !drlib_preflight hook) with a
    new machine's PATH: it fails naming the key, and no stack exists afterwards."""
    from tests.fresh_path import fresh_machine_environment

    project = _project_copy(tmp_path, _set(secondary_region="us-east-1"))
    env = fresh_machine_environment({**os.environ, **emulator.environment()})
    env["PATH"] = "/usr/bin:/bin"
    done = subprocess.run([str(Path(sys.executable).with_name("sceptre")), "--var-file",
                           "vars/dev.yaml", "launch", "--yes", "primary"], cwd=project,
                          capture_output=True, text=True, check=False, timeout=240, env=env)
    assert done.returncode != 0
    assert "key secondary_region" in done.stdout + done.stderr
    assert _stacks_in(aws) == []


@pytest.mark.parametrize(("cidr", "accepted"), [
    ("10.10.0.0/16", True), ("192.168.8.0/21", True), ("10.300.0.0/16", False),
    ("10.10.0.0/22", False), ("10.10.0.0/15", False), ("256.1.0.0/16", False),
])
def test_network_template_pattern_guards_sceptre_by_hand(cidr: str, accepted: bool) -> None:
    """The network template's own AllowedPattern refuses octets over 255 and prefixes outside
    /16-/21, so CloudFormation refuses them even without drlib."""
    from tests.templates.cfn import load

    parameters = load("network.yaml")["Parameters"]
    for name in ("PrimaryVpcCidr", "SecondaryVpcCidr"):
        pattern = parameters[name]["AllowedPattern"]
        assert bool(re.fullmatch(pattern, cidr)) is accepted
