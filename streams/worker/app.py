"""The Faust worker: one agent over both input topics, state in a changelog-backed Table.

Faust's per-event stream and its one changelog send per table update cost more than the work
itself (docs/design.md, "The worker: whole fetches around Faust's stream"; figures in
docs/performance.md), so the agent works on whole fetches (`streams.worker.batching`): the pure
`BatchProcessor` decides everything for the batch, then this shell writes each touched borrower's
state once, sends one changelog message per borrower per batch, and publishes alerts and dead
letters in order. Faust refuses table writes outside per-event iteration, so batch writes go to
`table.data` with a current event naming the right partition (the RocksDB store reads it), and
the changelog messages are produced explicitly (see `Worker._publish`)."""

from __future__ import annotations

import asyncio
import gc
import logging
import sys
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field, replace
from functools import partial
from pathlib import Path
from typing import Any

import click
import faust
import orjson
from faust.sensors.prometheus import setup_prometheus_sensors
from faust.types import TP, EventT
from mode import CrashingSupervisor

from streams.cli_options import (
    challenger_option,
    challengers_or_exit,
    config_option,
    settings_or_exit,
)
from streams.core.batch import (
    BatchProcessor,
    BatchResult,
    InputRecord,
    Placement,
    StateLoader,
)
from streams.core.challengers import Challenger
from streams.core.config import EngineConfig, Settings
from streams.core.config_loader import DEFAULTS_SOURCE, ConfigError, load_settings
from streams.core.decoding import CALL_ATTEMPT, REPAYMENT
from streams.core.engine import BorrowerState, evict_if_idle
from streams.core.reload import ReloadResult, decide
from streams.worker.batching import BatchingApp
from streams.worker.config_watch import WatchedFile
from streams.worker.faust_internals import (
    act_in_partition,
    aiokafka_producer,
    leave_partition,
    stored_keys,
)
from streams.worker.kafka_security import faust_credentials
from streams.worker.membership import leave_group
from streams.worker.metrics import FAUST_PREFIX, DomainMetrics
from streams.worker.partitioning import default_placement
from streams.worker.startup import StartupError, preflight, rekeyed_topic
from streams.worker.topics import TABLE_NAME, shadow_table_name
from streams.worker.web import METRICS_PATH, Readiness, add_health_pages, web_settings

BATCH_MAX_EVENTS = 5000  # queued fetches are merged up to this many records
# A record batch per changelog partition per agent batch, split at this size: below Kafka's 1 MiB
# default message.max.bytes and max.request.size, with room for a state well above its usual size.
CHANGELOG_BATCH_BYTES = 512 * 1024
DEFAULT_EVICTION_SWEEP_S = 30.0
FAUST_REQUEST_TIMEOUT_S = 90.0  # Faust's default
DEFAULT_RELOAD_INTERVAL_S = 5.0
EVICTION_SWEEP_KEYS = 20_000  # per sweep: keys judged each `eviction_sweep_s`
SWEEP_SLICE_KEYS = 500  # per hold of the state lock, so a sweep never stalls a batch for long
# Decoded states kept between batches per config (streams/core/state_cache.py): a borrower
# touched again skips decoding its stored state. Its memory cost per borrower and its effect on
# CPU per event: docs/performance.md.
STATE_CACHE_BORROWERS = 20_000
logger = logging.getLogger(__name__)
# (key, state bytes or None for a tombstone) per changelog partition
ChangelogRecords = dict[int, list[tuple[bytes, bytes | None]]]


class BorrowerTable(faust.Table):
    """The Faust table, remembering which partition each borrower's state belongs to.

    Batch writes and the idle-eviction sweep must address the changelog partition explicitly;
    recovery from the changelog is where that knowledge comes back after a restart.
    """

    partition_of: dict[bytes, int]
    tracked_in: Counter[int]  # borrowers per partition, so the gauge costs O(partitions)
    recovered: bool  # since the last rebalance: what readiness waits for

    def __post_init__(self) -> None:
        super().__post_init__()
        self.partition_of = {}
        self.tracked_in = Counter()
        self.recovered = False

    async def on_rebalance(
        self, assigned: set[TP], revoked: set[TP], newly_assigned: set[TP], generation_id: int = 0
    ) -> None:
        self.recovered = False
        await super().on_rebalance(assigned, revoked, newly_assigned, generation_id)

    def remember(self, key: bytes, partition: int) -> None:
        previous = self.partition_of.get(key)
        if previous != partition:
            if previous is not None:
                self.tracked_in[previous] -= 1
            self.partition_of[key] = partition
            self.tracked_in[partition] += 1

    def forget(self, key: bytes) -> None:
        previous = self.partition_of.pop(key, None)
        if previous is not None:
            self.tracked_in[previous] -= 1

    def tracked(self, partitions: set[int]) -> int:
        return sum(self.tracked_in[partition] for partition in partitions)

    def apply_changelog_batch(self, batch: Iterable[EventT]) -> None:
        events = list(batch)
        for event in events:
            key = event.message.key
            if key is None:
                continue
            if event.message.value is None:
                self.forget(key)
            else:
                self.remember(key, event.message.partition)
        super().apply_changelog_batch(events)

    async def on_recovery_completed(self, active_tps: set[TP], standby_tps: set[TP]) -> None:
        """A reopened RocksDB store replays only the changelog past its persisted offset, so
        the borrowers it already held are read back from its per-partition databases."""
        await super().on_recovery_completed(active_tps, standby_tps)
        mine = {tp.partition for tp in active_tps if tp.topic == self.changelog_topic_name}
        for key, partition in stored_keys(self.data, mine):
            self.remember(key, partition)
        self.recovered = True


@dataclass
class Lane:
    """One engine config with its own state table and alert topic: the champion (the rules in
    force) or a challenger, whose alerts go to the shadow topic and act on nothing."""

    name: str  # the challenger's name; "" for the champion
    engine: EngineConfig
    table: BorrowerTable
    alert_topic: faust.TopicT
    source: str  # the config file (or "<defaults>")
    watch: WatchedFile | None = None  # the file, watched for hot reload
    watermark_ms: dict[int, int] = field(default_factory=dict)  # newest event time by partition
    sweep_cursor: list[bytes] = field(default_factory=list)

    @property
    def label(self) -> str:
        """The `config` label of the reload metric."""
        return f"challenger/{self.name}" if self.name else "main"


@dataclass
class Worker:
    """The imperative shell: Faust app, topics, tables, metrics, around one BatchProcessor."""

    settings: Settings
    partitions: int
    metrics: DomainMetrics
    eviction_sweep_s: float = DEFAULT_EVICTION_SWEEP_S
    # input topic -> partition count (preflight's); a topic left out has `partitions`
    input_partitions: dict[str, int] = field(default_factory=dict)
    challengers: tuple[Challenger, ...] = ()
    reload_interval_s: float = DEFAULT_RELOAD_INTERVAL_S  # 0: no hot reload
    app: BatchingApp = field(init=False)
    direct_sends: bool = field(init=False)
    started: Settings = field(init=False)  # as loaded at start: what a reload cannot change
    lanes: list[Lane] = field(init=False)  # the champion first, then the challengers in order
    placement: Placement = field(init=False)
    processor: BatchProcessor = field(init=False)
    kinds: dict[str, str] = field(init=False)  # the engine agent's topics -> event kind
    _state_lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    _misrouted_reported: set[str] = field(default_factory=set)  # topics already logged

    def __post_init__(self) -> None:
        kafka = self.settings.kafka
        self.direct_sends = kafka.processing_guarantee == "at_least_once"
        self.app = BatchingApp(
            kafka.app_id,
            broker=kafka.broker,
            broker_credentials=faust_credentials(kafka),
            store=kafka.store,
            processing_guarantee=kafka.processing_guarantee,
            topic_partitions=self.partitions,
            topic_replication_factor=kafka.replication_factor,
            key_serializer="raw",
            value_serializer="raw",
            web_port=self.settings.web.port,
            web_bind=self.settings.web.bind,
            consumer_auto_offset_reset="earliest",
            broker_max_poll_records=BATCH_MAX_EVENTS,
            broker_session_timeout=kafka.session_timeout_ms / 1000,
            broker_heartbeat_interval=kafka.heartbeat_interval_ms / 1000,
            # Faust refuses a request timeout shorter than the session timeout.
            broker_request_timeout=max(FAUST_REQUEST_TIMEOUT_S, kafka.session_timeout_ms / 1000),
            consumer_group_instance_id=kafka.group_instance_id,
            table_standby_replicas=kafka.standby_replicas,
            producer_max_batch_size=CHANGELOG_BATCH_BYTES,
            **web_settings(),
        )
        if kafka.group_instance_id is not None and kafka.leave_group_on_stop:
            self.app.on_consumer_closed = partial(leave_group, kafka)
        setup_prometheus_sensors(self.app, pattern=METRICS_PATH, name_prefix=FAUST_PREFIX)
        add_health_pages(self.app, self.readiness)
        kinds = {kafka.call_topic: CALL_ATTEMPT, kafka.repayment_topic: REPAYMENT}
        alert_topic = self.app.topic(kafka.alert_topic, partitions=self.partitions)
        shadow_topic = self.app.topic(kafka.shadow_alert_topic, partitions=self.partitions)
        self.started = self.settings
        source = self.settings.source
        self.lanes = [Lane("", self.settings.engine, self._table(TABLE_NAME), alert_topic, source)]
        self.lanes += [
            Lane(c.name, c.engine, self._table(shadow_table_name(c.name)), shadow_topic,
                 str(c.path))
            for c in self.challengers
        ]  # fmt: skip
        self.dead_letter_topic = self.app.topic(kafka.dead_letter_topic)
        if kafka.repartition:
            kinds = self._repartition_by_borrower(kinds)
        self.kinds = kinds
        self.placement = default_placement(dict.fromkeys(kinds, self.partitions))
        self.processor = self._processor()
        self._batched_agent(kinds, "borrower-events", self.handle_batch)
        self.app.timer(self.eviction_sweep_s)(self._sweep_idle)
        if self.reload_interval_s > 0:
            self._watch_config_files()
        self.app.task(_freeze_startup_objects)
        for topic in {kafka.call_topic, kafka.repayment_topic, *kinds}:
            # at 0 from the start, so that increase() in the alert rule sees the first one
            self.metrics.events_misrouted.labels(topic=topic)
        self.metrics.config_info.labels(
            version=self.settings.engine.version, source=self.settings.source
        ).set(1)
        for challenger in self.challengers:
            self.metrics.shadow_config_info.labels(
                challenger=challenger.name, version=challenger.engine.version,
                source=str(challenger.path),
            ).set(1)  # fmt: skip

    @property
    def table(self) -> BorrowerTable:
        """The champion's table."""
        return self.lanes[0].table

    def _table(self, name: str) -> BorrowerTable:
        table = BorrowerTable(
            self.app,
            name=name,
            default=None,
            partitions=self.partitions,
            key_type=bytes,  # raw bytes: borrower_id and BorrowerState.to_bytes()
            value_type=bytes,
            help="Per-borrower engine state (streams.core.engine.BorrowerState bytes).",
        )
        self.app.tables.add(table)
        return table

    def _processor(self) -> BatchProcessor:
        """The batch step for the lanes' engine configs as they are now."""
        champion, *challengers = (lane.engine for lane in self.lanes)
        return BatchProcessor(champion, self.kinds, require_key=True, placement=self.placement,
                              challengers=challengers,
                              cache_borrowers=STATE_CACHE_BORROWERS)  # fmt: skip

    def _watch_config_files(self) -> None:
        """Poll every config file (main and challengers) for hot reload."""
        for lane in self.lanes:
            if lane.source != DEFAULTS_SOURCE:
                lane.watch = WatchedFile(Path(lane.source))
            for result in ReloadResult:  # every series exists from the start, at 0
                self.metrics.config_reload.labels(config=lane.label, result=result)
        self.metrics.config_restart_required.set(0)
        self.app.timer(self.reload_interval_s)(self.reload_changed_configs)

    async def reload_changed_configs(self) -> None:
        """Reload each config file whose content changed; an engine switch waits for the batch
        in progress (the state lock) and takes effect from the next batch on."""
        for lane in self.lanes:
            if lane.watch is None or not lane.watch.changed():
                continue
            try:  # the main file with the environment, as at start; challengers without it
                candidate: Settings | ConfigError = load_settings(
                    lane.watch.path, env=None if not lane.name else {}
                )
            except ConfigError as error:
                candidate = error
            decision = decide(
                lane.source, lane.engine, candidate, None if lane.name else self.started
            )
            if decision.engine is not None:
                async with self._state_lock:
                    self._switch(lane, decision.engine)
            refused = ReloadResult.REFUSED in decision.results
            for line in decision.log_lines:
                logger.log(logging.WARNING if refused else logging.INFO, line)
            for result in decision.results:
                self.metrics.config_reload.labels(config=lane.label, result=result).inc()
            if not lane.name and not refused:
                restart = ReloadResult.RESTART_REQUIRED in decision.results
                self.metrics.config_restart_required.set(int(restart))

    def _switch(self, lane: Lane, engine: EngineConfig) -> None:
        """Between batches: the lane's engine, the batch step, and the info series."""
        old, lane.engine = lane.engine, engine
        self.processor = self._processor()
        if lane.name:
            info = self.metrics.shadow_config_info
            info.remove(lane.name, old.version, lane.source)
            info.labels(challenger=lane.name, version=engine.version, source=lane.source).set(1)
        else:
            self.settings = replace(self.settings, engine=engine)
            self.metrics.config_info.remove(old.version, lane.source)
            self.metrics.config_info.labels(version=engine.version, source=lane.source).set(1)

    def _repartition_by_borrower(self, kinds: dict[str, str]) -> dict[str, str]:
        """For producers that do not key by borrower_id: a first agent decodes each event and
        forwards its original bytes, keyed by borrower_id, to an internal topic per kind; the
        main agent reads those. Invalid events are dead-lettered at this first step."""
        counts = {topic: self.input_partitions.get(topic, self.partitions) for topic in kinds}
        router = BatchProcessor(
            self.settings.engine, kinds, require_key=False, placement=default_placement(counts)
        )
        rekeyed = {
            topic: self.app.topic(
                rekeyed_topic(self.settings.kafka, topic),
                partitions=self.partitions,
                internal=True,
                key_serializer="raw",
                value_serializer="raw",
            )
            for topic in kinds
        }

        async def repartition(records: list[InputRecord]) -> None:
            received_at_ms = int(time.time() * 1000)
            router.config = self.settings.engine  # its max_future_skew, after a hot reload too
            result, routed = router.route(records, received_at_ms)
            outputs = [await self._publish(rekeyed[topic], key, value)
                       for topic, key, value in routed]  # fmt: skip
            outputs += await self._publish_dead_letters(result)
            await _delivered(outputs)
            self._count(result, received_at_ms)

        self._batched_agent(kinds, "repartition-by-borrower", repartition)
        return {rekeyed[topic].get_topic_name(): kind for topic, kind in kinds.items()}

    def _batched_agent(
        self,
        topics: Iterable[str],
        name: str,
        handle: Callable[[list[InputRecord]], Awaitable[None]],
    ) -> None:
        """A Faust agent over `topics` that handles whole fetches (`streams.worker.batching`): the
        agent's topic subscription drives assignment and commits, its records arrive in the
        inbox instead of the per-event stream."""
        inbox = self.app.inbox(topics)
        source = self.app.topic(*topics, key_serializer="raw", value_serializer="raw")

        async def agent(stream: faust.StreamT) -> None:
            async for batch in self.app.batches(inbox, BATCH_MAX_EVENTS):
                await handle(batch.records)

        # A failed batch stays unacked; restarting only the agent (Faust's default) would go
        # on acking later batches, and a commit could then pass the failed one.
        self.app.agent(source, name=name, supervisor_strategy=CrashingSupervisor)(agent)

    async def handle_batch(self, records: list[InputRecord]) -> None:
        """Alerts and dead letters are delivered before the state that records their events:
        if the worker dies in between, the events are redelivered and re-raise the alerts
        (same ids) instead of being skipped as duplicates of a state that was already saved.
        The batch is acked only after its changelog records are delivered too (the producer's
        flush before a commit does not report failed sends). Challengers' alerts and states go
        the same way, to the shadow topic and their own tables (their dead letters do not:
        only the champion's are published)."""
        loads = [_loader(lane.table) for lane in self.lanes]
        async with self._state_lock:
            started = time.perf_counter()
            result = self.processor.process(records, loads[0], int(time.time() * 1000), loads[1:])
            self.metrics.engine_processing_seconds.observe(
                (time.perf_counter() - started) / max(1, len(records))
            )
            emitted_at_ms = int(time.time() * 1000)
            lane_results = [result, *result.shadows]
            outputs = [
                await self._publish(lane.alert_topic, alert.borrower_id.encode(),
                                    alert.encode(emitted_at_ms))
                for lane, lane_result in zip(self.lanes, lane_results, strict=True)
                for _, alert in lane_result.alerts
            ]  # fmt: skip
            outputs += await self._publish_dead_letters(result)
            await _delivered(outputs)
            for lane, lane_result in zip(self.lanes, lane_results, strict=True):
                await self._persisted(lane.table, await self._write_states(lane, lane_result))
            leave_partition()
        self._count(result, emitted_at_ms)

    async def _persisted(
        self, table: BorrowerTable, changelog_deliveries: list[Awaitable[Any]]
    ) -> None:
        """Wait for changelog deliveries; under at-least-once also what Faust's own changelog
        callback does: a RocksDB store reopened after a restart then skips the changelog it
        already holds (a no-op for memory://). Under exactly-once Faust persists offsets only
        on commit, as a delivered write may still be aborted; that case gets a full replay."""
        for delivery in await _delivered(changelog_deliveries):
            if self.direct_sends:
                table.data.set_persisted_offset(delivery.topic_partition, delivery.offset)

    async def _write_states(self, lane: Lane, result: BatchResult) -> list[Awaitable[Any]]:
        """Store each touched borrower once and send its changelog message; returns the
        deliveries."""
        table = lane.table
        data = table.data
        by_partition: ChangelogRecords = {}
        for key, write in result.writes.items():
            act_in_partition(write.partition)
            if write.value is None:
                data.pop(key, None)
                table.forget(key)
            else:
                data[key] = write.value
                table.remember(key, write.partition)
            by_partition.setdefault(write.partition, []).append((key, write.value))
        for partition, newest in result.newest_event_ms.items():
            if newest > lane.watermark_ms.get(partition, 0):
                lane.watermark_ms[partition] = newest
        return await self._publish_changelog(table, by_partition)

    async def _publish_changelog(
        self, table: BorrowerTable, by_partition: ChangelogRecords
    ) -> list[Awaitable[Any]]:
        """A partition's changelog messages go to the producer as record batches (far cheaper
        per message than `send`): under exactly-once through the partition's transactional
        producer, so they commit or abort with the batch's offsets. A delivery's offset is its
        record batch's first, which only makes a reopened RocksDB store replay a little more."""
        topic = table.changelog_topic.get_topic_name()
        in_flight = []
        for partition, messages in by_partition.items():
            producer, lock = aiokafka_producer(self.app, topic, partition)
            async with lock:
                batch = producer.create_batch()
                for key, value in messages:
                    if batch.append(key=key, value=value, timestamp=None) is None:
                        in_flight.append(
                            await producer.send_batch(batch, topic, partition=partition)
                        )
                        batch = producer.create_batch()
                        batch.append(key=key, value=value, timestamp=None)  # a first one fits
                in_flight.append(await producer.send_batch(batch, topic, partition=partition))
        return in_flight

    async def _publish(
        self,
        topic: faust.TopicT,
        key: bytes | None,
        value: bytes | None,
        partition: int | None = None,
    ) -> Awaitable[Any]:
        """Queue one output message; returns its delivery.

        Under at-least-once it goes straight to the producer: Faust's topic path costs more per
        message than the batch's own work, and the consumer flushes the producer before every
        offset commit anyway.
        Under exactly-once it goes through the topic, i.e. Faust's transaction manager, which
        puts a changelog message (co-partitioned with its source) into the source partition's
        transaction. Alerts and dead letters are delivered at least once either way; their
        deterministic ids make redeliveries recognisable downstream."""
        if self.direct_sends:
            return await self.app.producer.send(
                topic.get_topic_name(), key, value, partition, None, None
            )
        return await topic.send(key=key, value=value, partition=partition)

    async def _publish_dead_letters(self, result: BatchResult) -> list[Awaitable[Any]]:
        return [await self._publish(self.dead_letter_topic, key, letter)
                for _, key, letter in result.dead_letters]  # fmt: skip

    def _count(self, result: BatchResult, emitted_at_ms: int) -> None:
        if logger.isEnabledFor(logging.DEBUG):
            _log_outputs(result)
        metrics = self.metrics
        for topic, count in result.consumed.items():
            metrics.events_consumed.labels(topic=topic).inc(count)
        for (topic, reason), count in result.invalid.items():
            metrics.events_invalid.labels(topic=topic, reason=reason).inc(count)
        for (topic, partition), count in result.misrouted.items():
            metrics.events_misrouted.labels(topic=topic).inc(count)
            self._report_misrouted(topic, partition)
        for topic, count in result.late.items():
            metrics.events_late.labels(topic=topic).inc(count)
        for topic, count in result.duplicate.items():
            metrics.events_duplicate.labels(topic=topic).inc(count)
        for _, alert in result.alerts:
            metrics.alerts.labels(rule=alert.rule, severity=alert.severity, state=alert.state).inc()
            metrics.event_to_alert_delay_seconds.observe(
                max(0.0, (emitted_at_ms - alert.event_time_ms) / 1000)
            )
        for lane, shadow in zip(self.lanes[1:], result.shadows, strict=True):
            for _, alert in shadow.alerts:
                metrics.shadow_alerts.labels(
                    challenger=lane.name, config_version=alert.config_version, rule=alert.rule,
                    severity=alert.severity, state=alert.state,
                ).inc()  # fmt: skip
        metrics.last_event_timestamp_seconds.set(emitted_at_ms / 1000)
        metrics.borrowers_tracked.set(self.table.tracked(self._active_partitions()))

    def readiness(self) -> Readiness:
        return Readiness(
            assigned_partitions=len(self._active_partitions()),
            table_recovered=all(lane.table.recovered for lane in self.lanes),
            rebalancing=bool(self.app.rebalancing),
        )

    def _report_misrouted(self, topic: str, partition: int) -> None:
        """Once per topic: a producer uses another partitioner (keys stay out of the log)."""
        if topic in self._misrouted_reported:
            return
        self._misrouted_reported.add(topic)
        handling = (
            "re-keyed through the by-borrower topic"
            if self.settings.kafka.repartition
            else f"dead-lettered to {self.settings.kafka.dead_letter_topic} (wrong_partition)"
        )
        logger.warning(
            "records on %s (first seen on partition %d) are not on the partition Kafka's "
            "default partitioner (murmur2) gives their key; they are %s and counted in "
            "reachwatch_events_misrouted_total. Producers must partition with murmur2 "
            "(librdkafka clients: partitioner=murmur2_random).",
            topic,
            partition,
            handling,
        )

    def _active_partitions(self) -> set[int]:
        """Partitions this worker processes now (standby replicas fill the table too)."""
        return {tp.partition for tp in self.app.consumer.assignment() if tp.topic in self.kinds}

    async def _sweep_idle(self) -> None:
        """Delete idle borrowers' state a slice at a time (docs/design.md, "State: format, bounds
        and eviction"), only on partitions this worker owns, and never while a batch is between
        load and write; each lane (champion, challengers) by its own engine config."""
        active = self._active_partitions()
        for lane in self.lanes:
            await self._sweep_lane(lane, active)
        self.metrics.borrowers_tracked.set(self.table.tracked(active))

    async def _sweep_lane(self, lane: Lane, active: set[int]) -> None:
        lane.watermark_ms = {p: w for p, w in lane.watermark_ms.items() if p in active}
        table = lane.table
        partition_of = table.partition_of
        if not lane.sweep_cursor:
            lane.sweep_cursor = list(partition_of)
        batch = lane.sweep_cursor[-EVICTION_SWEEP_KEYS:]
        del lane.sweep_cursor[-EVICTION_SWEEP_KEYS:]
        data = table.data
        # Event times past the clock plus the skew are dead-lettered at the door (decoding, so
        # the champion's skew); the ceiling also holds if this host's clock has stepped back
        # since (no event clock may run ahead).
        ceiling = int(time.time() * 1000) + self.settings.engine.max_future_skew_ms
        # Each key is decoded to be judged, so a whole sweep under the state lock would hold
        # every batch back until it ends; a slice at a time lets batches run in between.
        for first in range(0, len(batch), SWEEP_SLICE_KEYS):
            tombstones: ChangelogRecords = {}
            async with self._state_lock:
                owned = self._active_partitions()  # a rebalance may come between slices
                for key in batch[first : first + SWEEP_SLICE_KEYS]:
                    partition = partition_of.get(key)
                    if partition is None or partition not in owned:
                        continue
                    if (watermark := lane.watermark_ms.get(partition)) is None:
                        continue
                    stored = data.get(key)
                    if stored is None:
                        continue
                    state = BorrowerState.from_bytes(stored)
                    if evict_if_idle(state, min(watermark, ceiling), lane.engine) is None:
                        data.pop(key, None)
                        table.forget(key)
                        tombstones.setdefault(partition, []).append((key, None))
                        if not lane.name:
                            self.metrics.state_evictions.inc()
                if tombstones:
                    await self._persisted(table, await self._publish_changelog(table, tombstones))
            await asyncio.sleep(0)  # a batch waiting for the lock takes it before the next slice


def _log_outputs(result: BatchResult) -> None:
    """At debug level, a line per alert and dead letter (the log masking covers what a dead
    letter's detail quotes from the rejected message)."""
    for _, alert in result.alerts:
        logger.debug("alert %s: %s %s %s for %s: %s", alert.alert_id, alert.rule, alert.state,
                     alert.severity, alert.borrower_id, alert.reason)  # fmt: skip
    for _, _, letter in result.dead_letters:
        record = orjson.loads(letter)
        logger.debug("dead letter from %s[%s]@%s: %s: %s", record["source_topic"],
                     record["source_partition"], record["source_offset"], record["reason"],
                     record["detail"])  # fmt: skip


async def _freeze_startup_objects() -> None:
    """Start-up leaves many long-lived objects (Faust, aiokafka, modules) that every full
    garbage collection would scan again, pausing the agent long enough to show in the event→alert
    p99 (docs/performance.md). Frozen, they are left out of collections."""
    gc.freeze()


def _loader(table: BorrowerTable) -> StateLoader:
    data = table.data

    def load(key: bytes, partition: int) -> bytes | None:
        act_in_partition(partition)
        return data.get(key)

    return load


async def _delivered(deliveries: list[Awaitable[Any]]) -> list[Any]:
    """Wait for deliveries (their record metadata); a failed one raises, which crashes the
    worker (agents run under a crashing supervisor) before the batch is acked."""
    return list(await asyncio.gather(*deliveries)) if deliveries else []


def build_worker(
    settings: Settings,
    eviction_sweep_s: float = DEFAULT_EVICTION_SWEEP_S,
    challengers: tuple[Challenger, ...] = (),
    reload_interval_s: float = DEFAULT_RELOAD_INTERVAL_S,
) -> Worker:
    """Check the broker and topics, then wire the Faust app (raises StartupError)."""
    topology = preflight(settings)
    return Worker(settings, topology.partitions, DomainMetrics(), eviction_sweep_s,
                  topology.inputs, challengers, reload_interval_s)  # fmt: skip


@click.command("worker")
@config_option
@challenger_option
@click.option("--loglevel", "-l", default="info", show_default=True,
              type=click.Choice(["crit", "error", "warn", "info", "debug"]))  # fmt: skip
@click.option("--data-dir", type=click.Path(path_type=Path), default=None,
              help="Where Faust keeps table stores (default: ./<app_id>-data).")  # fmt: skip
@click.option("--eviction-sweep", "eviction_sweep_s", type=click.FloatRange(min=0.1),
              default=DEFAULT_EVICTION_SWEEP_S, show_default=True,
              help="Seconds between idle-state sweeps (a table slice each).")  # fmt: skip
@click.option("--reload-interval", "reload_interval_s", type=click.FloatRange(min=0),
              default=DEFAULT_RELOAD_INTERVAL_S, show_default=True,
              envvar="REACHWATCH_RELOAD_INTERVAL",
              help="Seconds between checks of the config files for hot reload; 0 turns it "
              "off.")  # fmt: skip
def worker_command(
    *,
    config_path: Path | None,
    challenger_paths: tuple[Path, ...],
    loglevel: str,
    data_dir: Path | None,
    eviction_sweep_s: float,
    reload_interval_s: float,
) -> None:
    """Run the Faust worker: consume both input topics, emit alerts and dead letters.

    Challengers (the config's [shadow] challengers and --challenger) see the same events and
    publish to the shadow alert topic only. Config files are watched: changed engine and rule
    settings apply between batches; an invalid file is refused and the running config stays."""
    settings = settings_or_exit(config_path)
    challengers = challengers_or_exit(settings, challenger_paths)
    try:
        worker = build_worker(settings, eviction_sweep_s, challengers, reload_interval_s)
    except StartupError as error:
        click.echo(f"reachwatch: cannot start: {error}", err=True)
        sys.exit(2)
    if data_dir is not None:
        worker.app.conf.datadir = data_dir
    web = settings.web
    sys.argv = ["reachwatch", "worker", "--loglevel", loglevel,
                "--web-port", str(web.port), "--web-bind", web.bind]  # fmt: skip
    worker.app.main()
