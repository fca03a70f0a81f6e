"""The session's shared folders (made_once.py, used by conftest.py): made once however many xdist workers ask at once, and every
change to one is noticed (a test that changed the shared course would change what another worker reads)."""

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

from made_once import changed_files, made_once

HERE = Path(__file__).resolve().parent


def test_a_shared_folder_is_made_once_when_two_processes_ask_at_once(tmp_path):
    """Two processes (as two xdist workers) start at once; the one that makes the folder takes a while.
    ``make`` runs once (it writes its pid to a file of its own), and both get what it made."""
    script = textwrap.dedent(f"""
        import json, os, sys, time
        from pathlib import Path
        sys.path.insert(0, {str(HERE)!r})
        from made_once import made_once

        def make(root):
            with open({str(tmp_path / "makers")!r}, "a") as makers:
                makers.write(f"{{os.getpid()}}\\n")
            time.sleep(1)
            root.mkdir()
            (root / "made").write_text("x")
            return {{"maker": os.getpid()}}

        Path({str(tmp_path / "started")!r}, str(os.getpid())).touch()
        while len(list(Path({str(tmp_path / "started")!r}).iterdir())) < 2:   # start together
            time.sleep(0.01)
        print(json.dumps(made_once(Path({str(tmp_path)!r}), "shared", make)))
    """)
    (tmp_path / "started").mkdir()
    workers = [subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True) for _ in range(2)]
    outputs = [json.loads(w.communicate(timeout=120)[0]) for w in workers]
    assert [w.returncode for w in workers] == [0, 0]
    makers = (tmp_path / "makers").read_text().split()
    assert len(makers) == 1
    assert outputs == [{"maker": int(makers[0])}] * 2
    assert int(makers[0]) in {w.pid for w in workers}
    assert (tmp_path / "shared" / "course" / "made").read_text() == "x"


def test_every_file_added_removed_or_written_in_a_shared_folder_is_named(tmp_path):
    def make(root):
        root.mkdir()
        for name in ("kept", "written", "removed"):
            (root / name).write_text(name)
        (root / "sub").mkdir()
        (root / "sub" / "touched").write_text("same")
        return root

    root = made_once(tmp_path, "shared", make)
    assert changed_files(root) == []
    (root / "written").write_text("other")
    (root / "removed").unlink()
    (root / "sub" / "added").write_text("new")
    os.utime(root / "sub" / "touched", ns=(0, 0))   # same size and content, written again
    assert changed_files(root) == ["removed", "sub/added", "sub/touched", "written"]
    assert made_once(tmp_path, "shared", make) == root   # made once: ``make`` would fail on the folder
