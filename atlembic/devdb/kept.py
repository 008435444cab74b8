"""Data dirs of ephemeral servers kept between runs, with the replayed states their databases hold.

A clean close keeps the server's data dir (on the temp base, next to the run dirs, so that keeping and
taking are renames) with the directory's states in it, and the next run whose files extend one of them
starts on it and replays only the files after it. An entry is trusted only through its metadata
(``<server>-cluster-<token>.json`` in the replay cache dir, written last and atomically): the server's
fingerprint, each kept database with its state's key, and a manifest of the data dir; a taken data dir
that does not match it, does not start or misses a database is deleted. At most :data:`MAX_STATES` states
per data dir, :data:`MAX_CLUSTERS` kept data dirs per cache dir and :data:`MAX_ENTRIES` per temp base.
The design and why: docs/architecture.md ("Kept data dirs").
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import secrets
import shutil
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from atlembic.devdb.process import pid_alive, remove_dir_atomically

__all__ = ["ClusterStore", "KeptCluster", "MAX_CLUSTERS", "MAX_ENTRIES", "MAX_STATES", "manifest"]

FORMAT = 1
MAX_STATES = 2  # states kept in one data dir
MAX_CLUSTERS = 1  # kept data dirs per cache dir (each is ~110 MB of tmpfs at 1000 tables)
MAX_ENTRIES = 2  # kept data dirs per temp base, whatever their cache dir
_ENTRY_FILE = "entry.json"  # in the entry: the metadata file that makes it valid (and the writer's pid)
_STALE_TMP = 3600.0  # seconds after which a metadata temp file is a crashed writer's


def manifest(datadir: Path) -> str:
    """A digest of every directory, file, size and modification time under `datadir` (a stopped server's:
    nothing changes until the next start; a file written meanwhile, removed or truncated shows): far cheaper
    than hashing the data dir's contents at each end."""
    rows = []
    pending = [""]
    while pending:
        rel = pending.pop()
        with os.scandir(os.path.join(datadir, rel)) as entries:
            for entry in entries:
                path = f"{rel}/{entry.name}" if rel else entry.name
                if entry.is_dir(follow_symlinks=False):
                    pending.append(path)
                    rows.append(f"d\0{path}")
                else:
                    st = entry.stat(follow_symlinks=False)
                    rows.append(f"f\0{path}\0{st.st_size}\0{st.st_mtime_ns}")
    rows.sort()
    return hashlib.sha256("\n".join(rows).encode()).hexdigest()


@dataclass(frozen=True)
class KeptCluster:
    metadata: Path
    entry: Path
    states: dict[str, str]  # database -> key of its state
    manifest: str
    mtime: float

    @property
    def datadir(self) -> Path:
        return self.entry / "data"


class ClusterStore:
    """The kept data dirs of one server kind (``name``) and fingerprint, for one cache dir."""

    def __init__(self, name: str, fingerprint: dict[str, Any], metadata_dir: Path, base: Path) -> None:
        self.name = name
        self.fingerprint = fingerprint
        self.metadata_dir = metadata_dir
        self.base = base
        self._removals: list[threading.Thread] = []

    @property
    def entry_prefix(self) -> str:
        return f"atlembic-kept-{self.name}-"

    def _metadata_files(self) -> list[Path]:
        try:
            return list(self.metadata_dir.glob(f"{self.name}-cluster-*.json"))
        except OSError:
            return []

    def clusters(self) -> list[KeptCluster]:
        """The valid entries of this fingerprint; metadata naming a missing data dir is deleted."""
        found = []
        for path in self._metadata_files():
            try:
                record = json.loads(path.read_text())
                mtime = path.stat().st_mtime
                entry = Path(record["entry"])
                states = record["states"]
                ok = (record.get("format") == FORMAT and record.get("server") == self.name
                      and entry.parent == self.base and entry.name.startswith(self.entry_prefix)
                      and isinstance(states, dict) and isinstance(record.get("manifest"), str)
                      and all(isinstance(k, str) and isinstance(v, str) for k, v in states.items()))
            except (OSError, ValueError, KeyError, TypeError):
                ok = False
            if not ok:
                _unlink(path)  # not ours to read: damaged, or of another format
                continue
            if record.get("fingerprint") != self.fingerprint:
                continue  # other binaries or settings: another run may still use it
            if not (entry / "data").is_dir():
                _unlink(path)  # taken by another run meanwhile, or removed
                remove_dir_atomically(entry)  # what is left of it (no data dir: small)
                continue
            found.append(KeptCluster(path, entry, states, record["manifest"], mtime))
        return found

    def candidates(self, keys: tuple[str, ...] | list[str]) -> list[tuple[int, KeptCluster]]:
        """(files covered by its longest state that is a prefix of `keys`, cluster), best first."""
        index = {key: i for i, key in enumerate(keys)}
        ranked = []
        for cluster in self.clusters():
            covered = max((index[key] + 1 for key in cluster.states.values() if key in index), default=0)
            if covered:
                ranked.append((covered, cluster))
        ranked.sort(key=lambda item: (item[0], item[1].mtime), reverse=True)
        return ranked

    def take(self, cluster: KeptCluster, datadir: Path) -> bool:
        """Move the cluster's data dir to `datadir` (which must not exist): True when it is now ours and
        matches its manifest. Either way the entry is gone from the store afterwards."""
        try:
            os.rename(cluster.datadir, datadir)  # atomic: of two runs, one gets it, the other an error
            taken = True
        except OSError:
            taken = False
        _unlink(cluster.metadata)
        remove_dir_atomically(cluster.entry)
        if not taken:
            return False
        try:
            intact = manifest(datadir) == cluster.manifest
        except OSError:
            intact = False
        if not intact:
            shutil.rmtree(datadir, ignore_errors=True)
        return intact

    def put(self, datadir: Path, states: dict[str, str]) -> bool:
        """Keep the (stopped) server's `datadir` with `states` (database -> key); False if it could not be
        kept (then `datadir` may be gone: the caller deletes its temp dir anyway)."""
        token = secrets.token_hex(8)
        entry = self.base / f"{self.entry_prefix}{token}"
        metadata = self.metadata_dir / f"{self.name}-cluster-{token}.json"
        tmp = self.metadata_dir / f".{metadata.name}.{secrets.token_hex(4)}.tmp"
        try:
            entry.mkdir(mode=0o700)
            # While it has no metadata, the entry belongs to this (live) process; a sweep then leaves it.
            (entry / _ENTRY_FILE).write_text(json.dumps({"metadata": str(metadata), "pid": os.getpid()}))
            os.rename(datadir, entry / "data")
            record = {"format": FORMAT, "server": self.name, "fingerprint": self.fingerprint, "entry": str(entry),
                      "states": states, "manifest": manifest(entry / "data"), "kept_at": time.time()}
            self.metadata_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
            tmp.write_text(json.dumps(record, sort_keys=True))
            os.replace(tmp, metadata)  # last: from now on the entry is trusted
            _write_atomically(entry / _ENTRY_FILE, json.dumps({"metadata": str(metadata)}))
        except OSError:
            _unlink(tmp)
            _unlink(metadata)
            remove_dir_atomically(entry)
            return False
        self.prune()
        return True

    def prune(self) -> None:
        """At most MAX_CLUSTERS kept data dirs for this cache dir, then the sweep of the temp base."""
        def mtime(path: Path) -> float:
            try:
                return path.stat().st_mtime
            except OSError:
                return 0.0

        for path in sorted(self._metadata_files(), key=mtime, reverse=True)[MAX_CLUSTERS:]:
            self._drop(path, remove_dir_atomically)
        with contextlib.suppress(OSError):
            for tmp in self.metadata_dir.glob(f".{self.name}-cluster-*.tmp"):
                if time.time() - mtime(tmp) > _STALE_TMP:
                    _unlink(tmp)

    def _drop(self, metadata: Path, remove: Callable[[Path], None]) -> None:
        try:
            entry = Path(json.loads(metadata.read_text())["entry"])
        except (OSError, ValueError, KeyError, TypeError):
            entry = None
        _unlink(metadata)
        if entry is not None and entry.parent == self.base and entry.name.startswith(self.entry_prefix):
            remove(entry)

    def sweep(self) -> None:
        """Remove this temp base's entries that no metadata names (orphaned: their cache dir or metadata was
        deleted, or their writer died before writing it), then the oldest beyond MAX_ENTRIES.

        Called as a server starts: the entries are renamed away at once and deleted by a background thread
        (overlapped with the run), which `wait` joins."""
        try:
            entries = [Path(e.path) for e in os.scandir(self.base)
                       if e.name.startswith(self.entry_prefix) and e.is_dir(follow_symlinks=False)
                       and e.stat(follow_symlinks=False).st_uid == os.geteuid()]
        except OSError:
            return
        valid: list[tuple[float, Path]] = []
        for entry in entries:
            try:
                info = json.loads((entry / _ENTRY_FILE).read_text())
            except (OSError, ValueError):
                info = {}
            metadata = Path(info["metadata"]) if isinstance(info, dict) and isinstance(
                info.get("metadata"), str) else None
            if metadata is not None and _names(metadata, entry):
                with contextlib.suppress(OSError):
                    valid.append((metadata.stat().st_mtime, metadata))
                continue
            pid = info.get("pid") if isinstance(info, dict) else None
            if isinstance(pid, int) and pid_alive(pid):
                continue  # being kept right now
            self._remove_in_background(entry)
        valid.sort(reverse=True)
        for _mtime, metadata in valid[MAX_ENTRIES:]:
            self._drop(metadata, self._remove_in_background)

    def _remove_in_background(self, path: Path) -> None:
        doomed = path.with_name(f"{path.name}.broken-{secrets.token_hex(4)}")
        try:
            path.rename(doomed)  # gone for every reader at once; a removal cut short is swept again
        except OSError:
            return
        thread = threading.Thread(target=shutil.rmtree, args=(doomed,), kwargs={"ignore_errors": True},
                                  name="atlembic-kept-removal", daemon=True)
        thread.start()
        self._removals.append(thread)

    def wait(self) -> None:
        """Until the removals `sweep` started are done."""
        while self._removals:
            self._removals.pop().join()


def _names(metadata: Path, entry: Path) -> bool:
    try:
        return json.loads(metadata.read_text()).get("entry") == str(entry)
    except (OSError, ValueError, AttributeError):
        return False


def _unlink(path: Path) -> None:
    with contextlib.suppress(OSError):
        path.unlink()


def _write_atomically(path: Path, text: str) -> None:
    tmp = path.with_name(f".{path.name}.{secrets.token_hex(4)}.tmp")
    try:
        tmp.write_text(text)
        os.replace(tmp, path)
    except OSError:
        _unlink(tmp)
        raise
