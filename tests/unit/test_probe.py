"""The probe's pure parts on captured data, and its failure handling with fakes (no TensorFlow)."""

from __future__ import annotations

import base64
import io
import json
import sqlite3
import types
from pathlib import Path

import pytest

from diagnostics import probe
from diagnostics.protocol import EventWriter, parse_event
from diagnostics.schema import _MIGRATIONS, SCHEMA_VERSION
from diagnostics.store import Store

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "probe"
INFO = json.loads((FIXTURES / "model_proto.json").read_text())
ELEMENT_BYTES = INFO["decoded_bytes_per_image"] + 4  # tf.data counts the int32 label too


@pytest.fixture(scope="module")
def body():
    return probe.parse_model_proto(base64.b64decode((FIXTURES / "model_proto.b64").read_text()))


def _node(body, name):
    (node,) = [n for n in body["nodes"] if n["name"] == name]
    return node


def test_parser_gives_the_whole_chain_in_id_order(body):
    names = [n["name"] for n in body["nodes"]]
    assert names[0] == "Root"
    for stage in ("Prefetch", "BatchV2", "Shuffle", "MemoryCache", "MemoryCacheImpl", "ParallelMapV2"):
        assert stage in names
    assert [n["id"] for n in body["nodes"]] == sorted(n["id"] for n in body["nodes"])
    assert body["output"] == body["nodes"][0]["id"]
    # Every input names a node of the model, except the source's exhausted input (dropped by tf.data).
    ids = {n["id"] for n in body["nodes"]}
    assert _node(body, "Shuffle")["inputs"][0] in ids


def test_parser_shuffle_buffer_holds_299_decoded_images(body):
    shuffle = _node(body, "Shuffle")
    assert shuffle["buffered_elements"] == 299  # shuffle(300) keeps buffer - 1 after handing one out
    assert shuffle["buffered_bytes"] == 299 * ELEMENT_BYTES


def test_parser_cache_bytes_are_its_elements_times_decoded_bytes(body):
    cache = _node(body, "MemoryCacheImpl")
    assert 299 < cache["buffered_elements"] <= INFO["num_images"]
    assert cache["buffered_bytes"] == cache["buffered_elements"] * ELEMENT_BYTES


def test_parser_autotune_parameters_and_budgets(body):
    prefetch, parallel_map = _node(body, "Prefetch"), _node(body, "ParallelMapV2")
    assert prefetch["tunable"] == ["buffer_size"] and prefetch["parameters"]["buffer_size"] >= 1
    assert parallel_map["tunable"] == ["parallelism"]
    assert 1 <= parallel_map["parameters"]["parallelism"] <= body["cpu_budget"]
    assert isinstance(parallel_map["parameters"]["parallelism"], int)
    assert body["ram_budget_bytes"] > 2**20 and body["cpu_budget"] >= 1
    assert _node(body, "BatchV2")["tunable"] == [] and _node(body, "BatchV2")["parameters"] == {}
    assert body["gap_times_ns"] and all(g > 0 and g % 1000 == 0 for g in body["gap_times_ns"])


def test_parser_processing_time_and_counts(body):
    parallel_map = _node(body, "ParallelMapV2")
    assert parallel_map["processing_time_ns"] > 0
    assert parallel_map["num_elements"] >= _node(body, "MemoryCacheImpl")["buffered_elements"]
    assert parallel_map["bytes_produced"] == parallel_map["num_elements"] * ELEMENT_BYTES


def test_parser_rejects_garbage():
    with pytest.raises(Exception):  # noqa: B017 - protobuf's DecodeError type differs per build
        probe.parse_model_proto(b"\xff\xff\xff\xff not a proto")


def test_proc_status_split():
    parts = probe.parse_proc_status((FIXTURES / "proc_status.txt").read_text())
    assert parts == {
        "rss_bytes": 774052 * 1024,
        "anon_bytes": 371560 * 1024,
        "file_bytes": 402484 * 1024,
        "shmem_bytes": 8 * 1024,
    }
    assert parts["anon_bytes"] + parts["file_bytes"] + parts["shmem_bytes"] == parts["rss_bytes"]


def test_proc_status_without_the_split_is_refused():
    with pytest.raises(ValueError, match="RssAnon|anon_bytes"):
        probe.parse_proc_status("Name:\tpython\nVmRSS:\t  100 kB\n")


def test_mallinfo_unavailable_gives_none():
    assert probe.mallinfo(None) == {
        "malloc_in_use_bytes": None,
        "malloc_free_bytes": None,
        "malloc_mmap_bytes": None,
    }
    assert probe._mallinfo2_function(types.SimpleNamespace()) is None  # a libc without mallinfo2


def test_mallinfo_fields_map_to_the_contract():
    info = probe.Mallinfo(uordblks=100, fordblks=20, hblkhd=7, arena=120)
    assert probe.mallinfo(lambda: info) == {
        "malloc_in_use_bytes": 100,
        "malloc_free_bytes": 20,
        "malloc_mmap_bytes": 7,
    }


def _var(shape, dtype):
    return types.SimpleNamespace(shape=shape, dtype=dtype)


def test_variables_bytes_counts_shape_times_dtype_once():
    kernel = _var((3, 3, 3, 16), "float32")
    variables = [kernel, _var((16,), "float32"), _var((), "int64"), kernel, _var((2, 2), "float16")]
    assert probe.variables_bytes(variables) == (3 * 3 * 3 * 16 + 16) * 4 + 8 + 4 * 2
    assert probe.variables_bytes(None) == 0


def test_composition_in_iterate_and_fit(tmp_path):
    status = tmp_path / "status"
    status.write_text((FIXTURES / "proc_status.txt").read_text())
    iterate = probe.composition(None, str(status))
    assert iterate["model_bytes"] is None and iterate["optimizer_bytes"] is None
    assert iterate["rss_bytes"] == 774052 * 1024
    model = types.SimpleNamespace(
        weights=[_var((10, 4), "float32")], optimizer=types.SimpleNamespace(variables=[_var((), "int64")])
    )
    fit = probe.composition(model, str(status))
    assert (fit["model_bytes"], fit["optimizer_bytes"]) == (160, 8)


def test_probe_hz(monkeypatch):
    monkeypatch.delenv(probe.PROBE_HZ_ENV, raising=False)
    assert probe.probe_hz() == 4.0
    monkeypatch.setenv(probe.PROBE_HZ_ENV, "0")
    assert probe.probe_hz() == 0
    monkeypatch.setenv(probe.PROBE_HZ_ENV, "fast")
    with pytest.raises(ValueError, match="DIAG_PROBE_HZ"):
        probe.probe_hz()


# -- the Probe with a fake TensorFlow ----------------------------------------------------------------


class _FakeErrors:
    class FailedPreconditionError(Exception):
        pass

    class NotFoundError(Exception):
        pass


def _fake_tf(get_model_proto):
    return types.SimpleNamespace(
        errors=_FakeErrors, raw_ops=types.SimpleNamespace(IteratorGetModelProto=get_model_proto)
    )


class _Iterator:
    _iterator_resource = "resource"


def _events():
    stream = io.StringIO()
    return EventWriter(stream), stream


def _emitted(stream):
    return [parse_event(line) for line in stream.getvalue().splitlines()]


def test_probe_emits_pipeline_and_composition_with_the_contract_fields():
    raw = base64.b64decode((FIXTURES / "model_proto.b64").read_text())
    writer, stream = _events()
    fake = _fake_tf(lambda iterator: types.SimpleNamespace(numpy=lambda: raw))
    p = probe.Probe(writer, fake, hz=0, epoch=lambda: 1)
    iterators = [_Iterator(), _Iterator()]
    for it in iterators:
        p._register(it)
    assert p.snapshot("tick") is True
    events = _emitted(stream)
    assert [e["kind"] for e in events] == ["pipeline", "pipeline", "composition"]
    assert [e["iterator"] for e in events[:2]] == [0, 1]
    assert events[0]["reason"] == "tick" and events[0]["epoch"] == 1
    assert set(events[0]) >= {"ram_budget_bytes", "cpu_budget", "output", "nodes", "gap_times_ns"}
    assert set(events[2]) >= {"rss_bytes", "anon_bytes", "file_bytes", "shmem_bytes", "malloc_in_use_bytes"}
    assert p.stats()["model_proto_calls"] == 2 and p.stats()["errors"] == 0


def test_a_failing_reading_is_counted_and_emits_nothing():
    def broken(iterator):
        raise RuntimeError("resource busted")

    writer, stream = _events()
    p = probe.Probe(writer, _fake_tf(broken), hz=0)
    it = _Iterator()
    p._register(it)
    assert p.snapshot("tick") is False
    assert stream.getvalue() == ""  # not even the composition of that tick
    assert p.errors == 1 and "resource busted" in p.last_error


def test_an_iterator_without_a_model_yet_is_skipped_not_an_error():
    def not_yet(iterator):
        raise _FakeErrors.FailedPreconditionError("no model")

    writer, stream = _events()
    p = probe.Probe(writer, _fake_tf(not_yet), hz=0)
    it = _Iterator()
    p._register(it)
    assert p.snapshot("epoch_end", 0) is True
    assert [e["kind"] for e in _emitted(stream)] == ["composition"]
    assert p.errors == 0


def test_iterators_made_while_tracing_a_function_are_not_recorded():
    p = probe.Probe(None, types.SimpleNamespace(executing_eagerly=lambda: False), hz=0)
    p._register(_Iterator())
    assert p.live_iterators() == []


def test_dead_iterators_leave_the_registry():
    p = probe.Probe(None, None, hz=0)
    it = _Iterator()
    p._register(it)
    assert [n for n, _ in p.live_iterators()] == [0]
    del it
    assert p.live_iterators() == []


# -- store schema v3 -----------------------------------------------------------------------------


def test_v2_store_migrates_to_v3_and_keeps_its_runs(tmp_path):
    home = tmp_path / "home"
    home.mkdir()
    conn = sqlite3.connect(home / "runs.sqlite")
    conn.executescript(_MIGRATIONS[0] + _MIGRATIONS[1] + "PRAGMA user_version = 2;")
    conn.execute(
        "INSERT INTO runs (created, status, config) VALUES ('2026-01-01', 'completed', '{\"loader\": \"x\"}')"
    )
    conn.commit()
    conn.close()

    store = Store(home)
    assert SCHEMA_VERSION >= 3 and store.schema_version() == SCHEMA_VERSION
    assert store.get_run(1)["config"] == {"loader": "x"}
    assert store.pipeline(1).empty and list(store.pipeline(1).columns) == ["t", "data"]
    assert store.composition(1).empty and list(store.composition(1).columns) == ["t", "data"]
    store.add_pipeline(1, [{"kind": "pipeline", "t": 2.0, "iterator": 0, "nodes": []}])
    assert store.pipeline(1)["data"][0] == {"iterator": 0, "nodes": []}
    assert store.integrity_check() == "ok"


def test_snapshot_tables_round_trip_count_and_delete(tmp_path):
    store = Store(tmp_path / "home")
    run_id = store.create_run({"dataset": "d", "loader": "x"}, {"root": "/d"})
    store.add_pipeline(run_id, [{"t": 2.0, "iterator": 1, "nodes": [{"id": 1}]}, {"t": 1.0, "iterator": 0}])
    store.add_composition(run_id, [{"kind": "composition", "t": 1.5, "rss_bytes": 10, "model_bytes": None}])
    pipeline = store.pipeline(run_id)
    assert list(pipeline["t"]) == [1.0, 2.0]
    assert pipeline["data"][1] == {"iterator": 1, "nodes": [{"id": 1}]}
    assert store.composition(run_id)["data"][0] == {"rss_bytes": 10, "model_bytes": None}
    counts = store.counts(run_id)
    assert (counts["pipeline"], counts["composition"]) == (2, 1)
    assert store.events(run_id).empty  # snapshots are not events
    store.delete_run(run_id)
    assert store.pipeline(run_id).empty and store.composition(run_id).empty


def _nodes(*spec):
    return [
        {"id": i, "name": name, "inputs": list(inputs), "buffered_bytes": b} for i, name, inputs, b in spec
    ]


def test_stages_released_before_the_end_keep_their_last_reading():
    # Readings of one iterator: while the cache fills, then after the shuffle released its input.
    filling = {
        "output": 1,
        "nodes": _nodes((1, "Root", [2], 0), (2, "Shuffle", [3], 50), (3, "MemoryCacheImpl", [], 90)),
    }
    drained = {"output": 1, "nodes": _nodes((1, "Root", [2], 0), (2, "Shuffle", [], 30))}
    at_end = {"output": 1, "nodes": _nodes((1, "Root", [], 0))}
    kept = probe.merge_released(filling, None, now=1.0)
    kept = probe.merge_released(drained, kept, now=2.0)
    body = probe.finish(probe.merge_released(at_end, kept, now=2.5), now=2.5)
    nodes = {n["name"]: n for n in body["nodes"]}
    assert nodes["Root"]["inputs"] == [2] and "released" not in nodes["Root"]  # chain restored
    assert nodes["Shuffle"] == {"id": 2, "name": "Shuffle", "inputs": [3], "buffered_bytes": 30,
                                "released": True, "age_s": 0.5}  # fmt: skip
    assert nodes["MemoryCacheImpl"]["buffered_bytes"] == 90 and nodes["MemoryCacheImpl"]["age_s"] == 1.5
    assert probe.finish(probe.merge_released(at_end, None, now=3.0), now=3.0)["nodes"] == at_end["nodes"]


def test_tensorflow_allocator_in_use_or_none_when_tensorflow_does_not_say():
    def tf_with(info):
        def get_memory_info(device):
            assert device == "CPU:0"
            if isinstance(info, Exception):
                raise info
            return info

        return types.SimpleNamespace(config=types.SimpleNamespace(experimental=types.SimpleNamespace(
            get_memory_info=get_memory_info)))  # fmt: skip

    assert probe.tf_allocator_in_use(tf_with({"current": 1179648, "peak": 23689216})) == 1179648
    assert probe.tf_allocator_in_use(tf_with(ValueError("no such device"))) is None
    assert probe.composition()["tf_allocator_in_use_bytes"] is None
