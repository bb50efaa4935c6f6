"""The smallest Faust app: upper-cases values from one topic into another (smoke test)."""

import os

import faust

app = faust.App(
    os.environ["SMOKE_APP_ID"],
    broker=f"kafka://{os.environ['SMOKE_BROKER']}",
    web_enabled=False,
    store="memory://",
    topic_replication_factor=1,
)
source = app.topic(os.environ["SMOKE_IN"], key_serializer="raw", value_serializer="raw")
sink = app.topic(os.environ["SMOKE_OUT"], key_serializer="raw", value_serializer="raw")


@app.agent(source)
async def shout(stream: faust.StreamT) -> None:
    async for key, value in stream.items():
        await sink.send(key=key, value=value.upper())
