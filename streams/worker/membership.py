"""Leaving the consumer group when a worker stops, static members included.

aiokafka, like Kafka's Java client, sends LeaveGroup on close only for a dynamic member. A static
member (`group_instance_id`) stays in the group, expected back within the session timeout with its
partitions unassigned meanwhile; if it is not back by then, the group rebalances after all and
again when it returns. With a session timeout of seconds a restarted Python worker rarely makes it
back in time, so by default a stopping static member is removed from the group explicitly, once
its consumer has committed and closed: the survivors take its partitions over at once.
aiokafka's protocol set has no LeaveGroup v3 (the version that names an instance id), so this goes
through kafka-python's admin client. `leave_group_on_stop = false` keeps Kafka's behaviour, for
session timeouts long enough to cover a restart.
"""

from __future__ import annotations

import asyncio
import logging

from kafka.admin import KafkaAdminClient, MemberToRemove

from streams.core.config import KafkaConfig
from streams.worker.kafka_security import bootstrap_servers, kafka_python_kwargs

LEAVE_TIMEOUT_S = 10.0  # then the session timeout ends the membership instead
log = logging.getLogger(__name__)


async def leave_group(kafka: KafkaConfig) -> None:
    """Remove this worker's static member from the group; a failure is logged, not raised (the
    worker is stopping anyway, and the session timeout is the fallback)."""
    try:
        await asyncio.wait_for(asyncio.to_thread(_remove_member, kafka), LEAVE_TIMEOUT_S)
    except Exception as error:  # logged: the session timeout still ends the membership
        log.warning("could not leave group %s as %s: %r", kafka.app_id,
                    kafka.group_instance_id, error)  # fmt: skip
    else:
        log.info("left group %s as static member %s", kafka.app_id, kafka.group_instance_id)


def _remove_member(kafka: KafkaConfig) -> None:
    admin = KafkaAdminClient(
        bootstrap_servers=bootstrap_servers(kafka.broker),
        request_timeout_ms=int(LEAVE_TIMEOUT_S * 1000),
        **kafka_python_kwargs(kafka),
    )
    try:
        member = MemberToRemove(group_instance_id=kafka.group_instance_id)
        results = admin.remove_group_members(kafka.app_id, [member])
    finally:
        admin.close()
    failed = {name: error for name, error in results.items() if error.__name__ != "NoError"}
    if failed:
        raise RuntimeError(f"LeaveGroup refused: {failed}")
