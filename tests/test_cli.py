"""``beamwatch export`` / ``beamwatch replay`` end to end (real subprocesses)."""

from __future__ import annotations

import subprocess

from helpers import BEAMWATCH, get_documents, get_run, make_run, norm_all, post_documents, run_uid

from beamwatch import documents as docs


def bw(*args, timeout=60):
    return subprocess.run([BEAMWATCH, *map(str, args)], capture_output=True, text=True, timeout=timeout)


def test_export_then_replay(server, tmp_path):
    items = make_run(300, md={"scan_id": 12})
    assert post_documents(server.url, items).status_code == 200
    uid = run_uid(items)

    # export from the server, and from the archive file directly
    out1, out2 = tmp_path / "a.jsonl", tmp_path / "b.jsonl"
    p = bw("export", "12", "--source", server.url, "-o", out1)
    assert p.returncode == 0, p.stderr
    assert f"wrote {len(items)} documents" in p.stderr
    p = bw("export", uid[:8], "--data-dir", server.settings.data_dir, "-o", out2)
    assert p.returncode == 0, p.stderr
    lines = [docs.loads(x) for x in out1.read_bytes().splitlines()]
    assert [(x["name"], x["doc"]) for x in lines] == norm_all(items)
    assert out2.read_bytes() == out1.read_bytes()

    # replay with fresh uids, as fast as possible
    p = bw("replay", out1, "--to", server.url, "--rate", "0")
    assert p.returncode == 0, p.stderr
    assert f"replayed {len(items)} documents" in p.stdout and f"({len(items)} accepted" in p.stdout
    runs = {r["uid"] for r in _runs(server.url)}
    (new_uid,) = runs - {uid}
    replayed = get_documents(server.url, new_uid)
    assert [n for n, _ in replayed] == [n for n, _ in items]
    assert [d["data"] for n, d in replayed if n == "event"] == [d["data"] for n, d in items if n == "event"]
    assert get_run(server.url, new_uid)["status"] == "success"

    # replay keeping the uids: everything is a duplicate, nothing rejected
    p = bw("replay", out1, "--to", server.url, "--rate", "0", "--keep-uids")
    assert p.returncode == 0, p.stderr
    assert f"(0 accepted, {len(items)} duplicates)" in p.stdout


def _runs(url):
    import httpx

    return httpx.get(f"{url}/api/v1/runs").json()["runs"]


def test_cli_errors(tmp_path, server):
    p = bw("replay", tmp_path / "missing.jsonl", "--to", server.url)
    assert p.returncode == 2 and "no such file" in p.stderr
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"name": "start", "doc": {"uid": "a", "time": 1}}\nnot json\n')
    p = bw("replay", bad, "--to", server.url, "--rate", "0")
    assert p.returncode == 2 and "bad.jsonl:2" in p.stderr
    p = bw("export", "nosuchrun", "--data-dir", tmp_path / "empty")
    assert p.returncode == 2 and "no run matches" in p.stderr
    p = bw("export", "nosuchrun", "--source", server.url)
    assert p.returncode == 2 and "404" in p.stderr
    p = bw("serve", "--zmq", "x:1", "--zmq-format", "pickle")
    assert p.returncode == 2 and "--zmq-unsafe-pickle" in p.stderr


def test_replay_reports_rejections(server, tmp_path):
    items = make_run(3)
    f = tmp_path / "run.jsonl"
    orphan = dict(items[2][1], descriptor="nope")
    f.write_bytes(b"".join(docs.dumps({"name": n, "doc": d}) + b"\n"
                           for n, d in items[:2] + [("event", orphan)] + items[3:]))
    p = bw("replay", f, "--to", server.url, "--rate", "0", "--keep-uids")
    assert p.returncode == 2 and "1 rejected" in p.stderr
