"""Drives gatebench's mocks and gateway with the official Python SDKs.

`tests/tests/python_sdks.rs` runs this with the servers' addresses in the
environment:

    GATEBENCH_OPENAI_URL      the OpenAI-compatible mock (http://HOST:PORT)
    GATEBENCH_ELEVENLABS_URL  the ElevenLabs-compatible mock
    GATEBENCH_GATEWAY_URL     the gateway in front of them
    GATEBENCH_KEY             a tenant's key at the gateway

Every check prints `ok NAME` or `FAIL NAME` followed by what went wrong (for an
HTTP error: the status and the body the server sent). All checks run even when
one fails, so a single run shows every incompatibility. The exit code is 1 if
any check failed. The gateway must be fresh: its cache checks expect a miss
before each hit.
"""

import asyncio
import base64
import datetime
import json
import os
import struct
import sys
import traceback
from decimal import Decimal
from importlib.metadata import version
from typing import Literal, Optional

import elevenlabs
import elevenlabs.core
import openai
import pydantic
from elevenlabs.client import ElevenLabs

OPENAI_URL = os.environ["GATEBENCH_OPENAI_URL"]
ELEVENLABS_URL = os.environ["GATEBENCH_ELEVENLABS_URL"]
GATEWAY_URL = os.environ["GATEBENCH_GATEWAY_URL"]
KEY = os.environ["GATEBENCH_KEY"]

# A hanging call fails its check rather than the whole run.
TIMEOUT = 30.0

CHAT_MODEL = "gpt-4o-mini"
EMBEDDING_MODEL = "text-embedding-3-small"
TTS_MODEL = "eleven_multilingual_v2"
SPEECH = "The quick brown fox jumps over the lazy dog."
WEATHER_TOOL = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "parameters": {
            "type": "object",
            "properties": {"city": {"type": "string"}},
            "required": ["city"],
            "additionalProperties": False,
        },
        "strict": True,
    },
}

failures = []


def check(name):
    """Runs the decorated function at once as the check `name`."""

    def run(body):
        try:
            body()
        except Exception as error:  # noqa: BLE001 - every failure is reported
            failures.append(name)
            print(f"FAIL {name}")
            print(describe(error), end="")
        else:
            print(f"ok {name}")
        sys.stdout.flush()
        return body

    return run


def describe(error):
    """What went wrong, with what the server sent when it was an HTTP error."""
    lines = [f"  {type(error).__module__}.{type(error).__name__}: {error}"]
    if isinstance(error, openai.APIStatusError):
        lines.append(f"  http status: {error.status_code}")
        lines.append(f"  body: {error.response.text}")
    elif isinstance(error, elevenlabs.core.ApiError):
        lines.append(f"  http status: {error.status_code}")
        lines.append(f"  body: {error.body}")
    elif not isinstance(error, AssertionError):
        lines.extend("  " + line for line in traceback.format_exc().splitlines())
    return "\n".join(lines) + "\n"


def expect(condition, message):
    if not condition:
        raise AssertionError(message)


def raises(kind, call):
    """Calls `call`, expecting `kind`; returns the exception."""
    try:
        result = call()
    except kind as error:
        return error
    raise AssertionError(f"expected {kind.__name__}, got a success: {result!r}"[:500])


def is_mp3(audio):
    """An ID3 tag or an MPEG-1/2 layer III frame header (sync, layer bits)."""
    if audio[:3] == b"ID3":
        return True
    return len(audio) >= 2 and audio[0] == 0xFF and (audio[1] & 0xE6) == 0xE2


def f32(vector):
    """`vector` rounded to single precision, the precision the API sends."""
    return struct.unpack(f"<{len(vector)}f", struct.pack(f"<{len(vector)}f", *vector))


def openai_client(base, key):
    # No retries: a server error must show up as one, not be hidden by a second try.
    return openai.OpenAI(base_url=f"{base}/v1", api_key=key, max_retries=0, timeout=TIMEOUT)


def messages(prompt):
    return [
        {"role": "system", "content": "You are a helpful assistant."},
        {"role": "user", "content": prompt},
    ]


def check_usage(usage):
    expect(usage is not None, "no usage")
    expect(usage.prompt_tokens > 0, f"prompt_tokens {usage.prompt_tokens}")
    expect(usage.completion_tokens > 0, f"completion_tokens {usage.completion_tokens}")
    expect(
        usage.total_tokens == usage.prompt_tokens + usage.completion_tokens,
        f"total_tokens {usage.total_tokens} != {usage.prompt_tokens} + {usage.completion_tokens}",
    )


def read_stream(stream):
    """A chat stream's text, tool calls (name and arguments), finish reason and usage."""
    content, calls, finish, usage, chunks = "", {}, None, None, 0
    for chunk in stream:
        chunks += 1
        expect(chunk.object == "chat.completion.chunk", f"object {chunk.object}")
        expect(chunk.model == CHAT_MODEL, f"chunk model {chunk.model}")
        for choice in chunk.choices:
            content += choice.delta.content or ""
            for call in choice.delta.tool_calls or []:
                name, arguments = calls.get(call.index, ("", ""))
                calls[call.index] = (
                    name + (call.function.name or ""),
                    arguments + (call.function.arguments or ""),
                )
            finish = choice.finish_reason or finish
        if chunk.usage is not None:
            expect(not chunk.choices, "the usage chunk has choices")
            usage = chunk.usage
    expect(chunks > 2, f"only {chunks} chunks")
    return content, [calls[i] for i in sorted(calls)], finish, usage


class Landmark(pydantic.BaseModel):
    name: str
    opened: datetime.date


class City(pydantic.BaseModel):
    """Bounds, a literal, a nested model (a `$ref`), a date and an optional field:
    what the SDK's strict schema keeps and `parse` validates."""

    name: str
    population: int = pydantic.Field(ge=1, le=40_000_000)
    rating: float = pydantic.Field(gt=0, lt=5)
    climate: Literal["dry", "wet"]
    landmarks: list[Landmark] = pydantic.Field(max_length=2)
    mayor: Optional[str]


def openai_checks(where, client):
    """The OpenAI SDK's everyday calls against `client` (the mock or the gateway)."""

    @check(f"openai/{where}/chat")
    def _():
        completion = client.chat.completions.create(
            model=CHAT_MODEL,
            messages=messages("Tell me a short story about a lighthouse."),
            max_tokens=64,
        )
        expect(completion.object == "chat.completion", f"object {completion.object}")
        expect(completion.id, "no id")
        expect(completion.model == CHAT_MODEL, f"model {completion.model}")
        choice = completion.choices[0]
        expect(choice.message.role == "assistant", f"role {choice.message.role}")
        expect(choice.message.content, "empty content")
        expect(choice.finish_reason in ("stop", "length"), f"finish {choice.finish_reason}")
        check_usage(completion.usage)
        expect(completion.usage.completion_tokens <= 64, "max_tokens not honoured")

    @check(f"openai/{where}/chat-stream")
    def _():
        stream = client.chat.completions.create(
            model=CHAT_MODEL,
            messages=messages("Tell me a short story about a lighthouse."),
            max_tokens=64,
            stream=True,
            stream_options={"include_usage": True},
        )
        content, _, finish, usage = read_stream(stream)
        expect(content, "no content streamed")
        expect(finish in ("stop", "length"), f"finish {finish}")
        check_usage(usage)

    @check(f"openai/{where}/chat-stream-helper")
    def _():
        # The SDK's accumulating stream helper, a separate code path from `create`.
        # No `max_tokens`: the helper refuses an answer cut at the length limit
        # (`LengthFinishReasonError`), as it would from the real API.
        with client.chat.completions.stream(
            model=CHAT_MODEL,
            messages=messages("Describe the sea in two sentences."),
            stream_options={"include_usage": True},
        ) as stream:
            deltas = "".join(event.delta for event in stream if event.type == "content.delta")
            final = stream.get_final_completion()
        expect(deltas, "no content.delta events")
        expect(final.choices[0].message.content == deltas, "final content differs")
        expect(final.choices[0].finish_reason == "stop", final.choices[0].finish_reason)
        check_usage(final.usage)

    @check(f"openai/{where}/async-chat-stream")
    def _():
        # The async client runs on a transport of its own.
        async def run():
            async with openai.AsyncOpenAI(
                base_url=client.base_url, api_key=client.api_key, max_retries=0, timeout=TIMEOUT
            ) as async_client:
                stream = await async_client.chat.completions.create(
                    model=CHAT_MODEL,
                    messages=messages("Tell me a short story about a lighthouse."),
                    stream=True,
                    stream_options={"include_usage": True},
                )
                content, usage = "", None
                async for chunk in stream:
                    for choice in chunk.choices:
                        content += choice.delta.content or ""
                    usage = chunk.usage or usage
                return content, usage

        content, usage = asyncio.run(run())
        expect(content, "no content streamed")
        check_usage(usage)

    @check(f"openai/{where}/tool-call")
    def _():
        completion = client.chat.completions.create(
            model=CHAT_MODEL,
            messages=messages("What is the weather in Paris?"),
            tools=[WEATHER_TOOL],
            tool_choice="required",
        )
        choice = completion.choices[0]
        expect(choice.finish_reason == "tool_calls", f"finish {choice.finish_reason}")
        expect(choice.message.tool_calls, f"no tool_calls in {choice.message}")
        call = choice.message.tool_calls[0]
        expect(call.function.name == "get_weather", f"name {call.function.name}")
        expect("city" in json.loads(call.function.arguments), call.function.arguments)

    @check(f"openai/{where}/structured-output")
    def _():
        # `parse` sends the model's JSON schema and validates the answer against
        # it; each question draws other values
        for n in range(5):
            completion = client.chat.completions.parse(
                model=CHAT_MODEL,
                messages=messages(f"Name city number {n} and its population."),
                response_format=City,
            )
            parsed = completion.choices[0].message.parsed
            expect(isinstance(parsed, City), f"parsed {parsed!r}")

    @check(f"openai/{where}/embeddings")
    def _():
        inputs = ["The cat sat on the mat.", "Refund my order, please."]
        response = client.embeddings.create(model=EMBEDDING_MODEL, input=inputs)
        expect(response.model == EMBEDDING_MODEL, f"model {response.model}")
        expect(len(response.data) == 2, f"{len(response.data)} embeddings")
        for index, item in enumerate(response.data):
            expect(item.index == index, f"index {item.index}")
            expect(len(item.embedding) == 1536, f"length {len(item.embedding)}")
            expect(all(isinstance(x, float) for x in item.embedding[:8]), "not floats")
        expect(response.usage.prompt_tokens > 0, "no prompt tokens")
        expect(
            response.usage.total_tokens == response.usage.prompt_tokens,
            f"usage {response.usage}",
        )

    @check(f"openai/{where}/embeddings-dimensions")
    def _():
        response = client.embeddings.create(
            model=EMBEDDING_MODEL, input="A short text.", dimensions=256
        )
        expect(len(response.data[0].embedding) == 256, f"length {len(response.data[0].embedding)}")
        # The SDK asks for base64 unless told otherwise and decodes it itself; the
        # JSON floats must be the same single-precision values, written as decimals.
        floats = client.embeddings.create(
            model=EMBEDDING_MODEL,
            input="A short text.",
            dimensions=256,
            encoding_format="float",
        )
        expect(
            f32(floats.data[0].embedding) == f32(response.data[0].embedding),
            "float and default (base64) encodings differ",
        )

    @check(f"openai/{where}/models")
    def _():
        ids = [model.id for model in client.models.list()]
        expect(CHAT_MODEL in ids, f"{CHAT_MODEL} not in {ids}")
        expect(EMBEDDING_MODEL in ids, f"{EMBEDDING_MODEL} not in {ids}")

    @check(f"openai/{where}/bad-request")
    def _():
        error = raises(
            openai.BadRequestError,
            lambda: client.chat.completions.create(
                model=CHAT_MODEL, messages=messages("Hi"), temperature=7
            ),
        )
        expect(error.status_code == 400, f"status {error.status_code}")
        expect(error.param == "temperature", f"param {error.param}")
        expect(error.type == "invalid_request_error", f"type {error.type}")

    @check(f"openai/{where}/unknown-model")
    def _():
        error = raises(
            openai.NotFoundError,
            lambda: client.chat.completions.create(model="no-such-model", messages=messages("Hi")),
        )
        expect(error.code == "model_not_found", f"code {error.code}")

    @check(f"openai/{where}/models-retrieve")
    def _():
        model = client.models.retrieve(CHAT_MODEL)
        expect(model.id == CHAT_MODEL, f"id {model.id}")
        error = raises(openai.NotFoundError, lambda: client.models.retrieve("no-such-model"))
        expect(error.code == "model_not_found", f"code {error.code}")

    @check(f"openai/{where}/responses")
    def _():
        response = client.responses.create(model=CHAT_MODEL, input="Tell me a joke.")
        expect(response.status == "completed", f"status {response.status}")
        expect(response.output_text, "empty output_text")
        expect(response.usage.total_tokens > 0, f"usage {response.usage}")

    @check(f"openai/{where}/responses-stream")
    def _():
        # the helper's final response needs `response.completed`: no cap that cuts it
        with client.responses.stream(model=CHAT_MODEL, input="Tell me a joke.") as stream:
            deltas = "".join(
                e.delta for e in stream if e.type == "response.output_text.delta"
            )
            final = stream.get_final_response()
        expect(final.status == "completed", f"status {final.status}")
        expect(deltas and deltas == final.output_text, "the deltas are not the final text")
        expect(final.usage.output_tokens > 0, f"usage {final.usage}")

    @check(f"openai/{where}/completions")
    def _():
        # Legacy completions with chat models, as vLLM serves them.
        completion = client.completions.create(
            model=CHAT_MODEL, prompt="Once upon a time", max_tokens=16
        )
        expect(completion.choices[0].text, "empty text")
        check_usage(completion.usage)

    @check(f"openai/{where}/completions-stream")
    def _():
        stream = client.completions.create(
            model=CHAT_MODEL,
            prompt="Once upon a time",
            max_tokens=16,
            stream=True,
            stream_options={"include_usage": True},
        )
        chunks = list(stream)
        text = "".join(c.choices[0].text for c in chunks if c.choices)
        expect(text, "empty text")
        expect(chunks[-1].usage is not None, "no usage chunk last")
        check_usage(chunks[-1].usage)


def openai_mock_checks(client):
    """Calls the mock serves and the gateway does not route."""

    @check("openai/mock/request-id")
    def _():
        completion = client.chat.completions.create(model=CHAT_MODEL, messages=messages("Hi"))
        expect(completion._request_id, "no x-request-id header for the SDK")



def cache_pair(call, read, streamed=False):
    """Makes the same call twice through the gateway, reading each answer whole
    with `read` before the next call: the first must miss the cache and go
    upstream, the second must be served from the cache. Returns each call's
    headers and what `read` made of it."""
    h1, first = call_and_read(call, read)
    h2, second = call_and_read(call, read)
    expect(h1.get("x-gatebench-cache") == "miss", f"first call: {dict(h1)}")
    expect(h1.get("x-gatebench-attempts") == "1", f"first call: {dict(h1)}")
    # A stream is billed when it ends, after its headers have gone out.
    if not streamed:
        expect(Decimal(h1["x-gatebench-cost-usd"]) > 0, f"first call: {dict(h1)}")
    expect(h2.get("x-gatebench-cache") == "hit", f"second call: {dict(h2)}")
    expect(Decimal(h2["x-gatebench-cost-usd"]) == 0, f"second call: {dict(h2)}")
    for headers in (h1, h2):
        expect(headers.get("x-gatebench-request-id", "").startswith("gb-"), dict(headers))
        expect("total;dur=" in headers.get("server-timing", ""), dict(headers))
    return (h1, first), (h2, second)


def call_and_read(call, read):
    response = call()
    return response.headers, read(response)


def parse(response):
    return response.parse()


def parse_stream(response):
    return read_stream(response.parse())


def openai_gateway_checks(client):
    """What the gateway adds: its headers, its cache, its keys."""
    raw = client.chat.completions.with_raw_response

    @check("openai/gateway/cached-chat")
    def _():
        (h1, a), (h2, b) = cache_pair(
            lambda: raw.create(
                model=CHAT_MODEL,
                messages=messages("Write a limerick about a forgetful owl."),
                max_tokens=32,
            ),
            parse,
        )
        expect(h1.get("x-gatebench-provider") == "openai", dict(h1))
        expect(h1.get("x-request-id"), "the provider's x-request-id is not relayed")
        expect(
            h2.get("x-request-id") == h2.get("x-gatebench-request-id"),
            "a cache hit is not named by its own x-request-id",
        )
        expect(b.choices[0].message.content == a.choices[0].message.content, "content differs")
        expect(b.choices[0].finish_reason == a.choices[0].finish_reason, "finish differs")
        check_usage(b.usage)
        expect(b.usage.completion_tokens == a.usage.completion_tokens, f"{b.usage} vs {a.usage}")

    @check("openai/gateway/cached-chat-stream")
    def _():
        (_, a), (_, b) = cache_pair(
            lambda: raw.create(
                model=CHAT_MODEL,
                messages=messages("Write a limerick about a sleepy cat."),
                stream=True,
                stream_options={"include_usage": True},
            ),
            parse_stream,
            streamed=True,
        )
        a_content, _, a_finish, a_usage = a
        b_content, _, b_finish, b_usage = b
        expect(b_content and b_content == a_content, "content differs")
        expect(b_finish == a_finish, f"finish {b_finish} vs {a_finish}")
        check_usage(b_usage)
        expect(b_usage.completion_tokens == a_usage.completion_tokens, f"{b_usage} vs {a_usage}")

    @check("openai/gateway/cached-completions")
    def _():
        (_, a), (h2, b) = cache_pair(
            lambda: client.completions.with_raw_response.create(
                model=CHAT_MODEL, prompt="The owl who forgot", max_tokens=24
            ),
            parse,
        )
        expect(b.object == "text_completion", f"object {b.object}")
        expect(b.id == f"cmpl-{h2.get('x-gatebench-request-id')}", f"id {b.id}")
        expect(b.choices[0].text and b.choices[0].text == a.choices[0].text, "text differs")
        expect(b.choices[0].finish_reason == a.choices[0].finish_reason, "finish differs")
        check_usage(b.usage)

    @check("openai/gateway/cached-tool-call")
    def _():
        (_, a), (_, b) = cache_pair(
            lambda: raw.create(
                model=CHAT_MODEL,
                messages=messages("What is the weather in Lisbon?"),
                tools=[WEATHER_TOOL],
                tool_choice="required",
            ),
            lambda response: (response.parse(), response.text),
        )
        for which, (response, body) in (("upstream", a), ("cached", b)):
            choice = response.choices[0]
            expect(choice.finish_reason == "tool_calls", f"{which}: finish {choice.finish_reason}")
            expect(choice.message.tool_calls, f"{which}: no tool_calls; the gateway sent {body}")
            name = choice.message.tool_calls[0].function.name
            expect(name == "get_weather", f"{which}: name {name}")

    @check("openai/gateway/cached-tool-call-stream")
    def _():
        (_, a), (_, b) = cache_pair(
            lambda: raw.create(
                model=CHAT_MODEL,
                messages=messages("What is the weather in Oslo?"),
                tools=[WEATHER_TOOL],
                tool_choice="required",
                stream=True,
                stream_options={"include_usage": True},
            ),
            parse_stream,
            streamed=True,
        )
        for which, (_, calls, finish, _) in (("upstream", a), ("cached", b)):
            expect(finish == "tool_calls", f"{which}: finish {finish}")
            expect(calls and calls[0][0] == "get_weather", f"{which}: tool calls {calls}")
            expect("city" in json.loads(calls[0][1]), f"{which}: arguments {calls[0][1]}")

    @check("openai/gateway/cached-embeddings")
    def _():
        (_, a), (_, b) = cache_pair(
            lambda: client.embeddings.with_raw_response.create(
                model=EMBEDDING_MODEL, input="Where is my parcel?"
            ),
            parse,
        )
        expect(f32(a.data[0].embedding) == f32(b.data[0].embedding), "vectors differ")
        expect(b.usage.prompt_tokens == a.usage.prompt_tokens, f"{b.usage} vs {a.usage}")

    @check("openai/gateway/bad-key")
    def _():
        bad = openai_client(GATEWAY_URL, "gb-nobody")
        error = raises(
            openai.AuthenticationError,
            lambda: bad.chat.completions.create(model=CHAT_MODEL, messages=messages("Hi")),
        )
        expect(error.status_code == 401, f"status {error.status_code}")
        raises(
            openai.AuthenticationError,
            lambda: bad.chat.completions.create(
                model=CHAT_MODEL, messages=messages("Hi"), stream=True
            ),
        )
        raises(openai.AuthenticationError, lambda: list(bad.models.list()))
        raises(
            openai.AuthenticationError,
            lambda: bad.embeddings.create(model=EMBEDDING_MODEL, input="Hi"),
        )


def elevenlabs_checks(where, client, voice_id):
    """The ElevenLabs SDK's text-to-speech calls against the mock or the gateway."""

    @check(f"elevenlabs/{where}/convert")
    def _():
        audio = b"".join(
            client.text_to_speech.convert(
                voice_id, text=SPEECH, model_id=TTS_MODEL, output_format="mp3_44100_128"
            )
        )
        expect(len(audio) > 1000, f"{len(audio)} bytes of audio")
        expect(is_mp3(audio), f"not MP3: {audio[:8].hex()}")

    @check(f"elevenlabs/{where}/convert-pcm")
    def _():
        audio = b"".join(
            client.text_to_speech.convert(
                voice_id, text=SPEECH, model_id=TTS_MODEL, output_format="pcm_16000"
            )
        )
        # 16-bit mono at 16 kHz: an even number of bytes, over a second of speech.
        expect(len(audio) > 32000 and len(audio) % 2 == 0, f"{len(audio)} bytes of PCM")

    @check(f"elevenlabs/{where}/stream")
    def _():
        chunks = list(
            client.text_to_speech.stream(
                voice_id, text=SPEECH, model_id=TTS_MODEL, output_format="mp3_44100_128"
            )
        )
        audio = b"".join(chunks)
        expect(chunks and len(audio) > 1000, f"{len(chunks)} chunks, {len(audio)} bytes")
        expect(is_mp3(audio), f"not MP3: {audio[:8].hex()}")

    @check(f"elevenlabs/{where}/with-timestamps")
    def _():
        response = client.text_to_speech.convert_with_timestamps(
            voice_id, text=SPEECH, model_id=TTS_MODEL, output_format="mp3_44100_128"
        )
        audio = base64.b64decode(response.audio_base_64)
        expect(is_mp3(audio), f"not MP3: {audio[:8].hex()}")
        alignment = response.alignment
        expect(alignment is not None, "no alignment")
        expect("".join(alignment.characters) == SPEECH, f"characters {alignment.characters}")
        starts = alignment.character_start_times_seconds
        ends = alignment.character_end_times_seconds
        expect(len(starts) == len(ends) == len(SPEECH), "one time per character")
        expect(all(a <= b for a, b in zip(starts, starts[1:])), "start times go back")
        expect(all(s <= e for s, e in zip(starts, ends)), "a character ends before it starts")

    @check(f"elevenlabs/{where}/stream-with-timestamps")
    def _():
        chunks = list(
            client.text_to_speech.stream_with_timestamps(
                voice_id, text=SPEECH, model_id=TTS_MODEL, output_format="mp3_44100_128"
            )
        )
        expect(chunks, "no chunks")
        audio = b"".join(base64.b64decode(c.audio_base_64) for c in chunks if c.audio_base_64)
        expect(is_mp3(audio), f"not MP3: {audio[:8].hex()}")
        characters = "".join(
            "".join(c.alignment.characters) for c in chunks if c.alignment is not None
        )
        expect(characters == SPEECH, f"characters {characters!r}")

    @check(f"elevenlabs/{where}/unknown-voice")
    def _():
        # The SDK has a class of its own only for 422 on these calls; any other
        # status is a plain `ApiError` with the status and the parsed body.
        error = raises(
            elevenlabs.core.ApiError,
            lambda: b"".join(
                client.text_to_speech.convert("no-such-voice", text=SPEECH, model_id=TTS_MODEL)
            ),
        )
        expect(error.status_code == 404, f"status {error.status_code}")
        expect(error.body["detail"]["status"] == "voice_not_found", f"body {error.body}")

    @check(f"elevenlabs/{where}/empty-text")
    def _():
        error = raises(
            elevenlabs.UnprocessableEntityError,
            lambda: b"".join(client.text_to_speech.convert(voice_id, text=" ", model_id=TTS_MODEL)),
        )
        expect(error.status_code == 422, f"status {error.status_code}")


def elevenlabs_mock_checks(client):
    """Calls the mock serves and the gateway does not route."""

    @check("elevenlabs/mock/voices")
    def _():
        everything = client.voices.get_all()
        expect(everything.voices, "no voices")
        first = everything.voices[0]
        expect(first.voice_id and first.name, f"voice {first!r}")
        found = client.voices.search(page_size=5)
        expect(found.voices, "search found no voices")
        one = client.voices.get(first.voice_id)
        expect(one.voice_id == first.voice_id, f"get {one.voice_id}")

    @check("elevenlabs/mock/models")
    def _():
        ids = [model.model_id for model in client.models.list()]
        expect(TTS_MODEL in ids, f"{TTS_MODEL} not in {ids}")


def elevenlabs_gateway_checks(client, voice_id):
    """The gateway's speech cache and keys, seen through the SDK."""
    raw = client.text_to_speech.with_raw_response

    def convert(text):
        # The raw client hands over the audio as a stream, open until it is read.
        with raw.convert(voice_id, text=text, model_id=TTS_MODEL) as response:
            return Read(response.headers, b"".join(response.data))

    @check("elevenlabs/gateway/cached-convert")
    def _():
        (h1, a), (_, b) = cache_pair(lambda: convert("A cached sentence."), lambda r: r.body)
        expect(h1.get("x-gatebench-provider") == "elevenlabs", dict(h1))
        expect(is_mp3(b) and b == a, "cached audio differs")

    @check("elevenlabs/gateway/cached-with-timestamps")
    def _():
        (_, a), (_, b) = cache_pair(
            lambda: raw.convert_with_timestamps(
                voice_id, text="Another cached sentence.", model_id=TTS_MODEL
            ),
            lambda r: r.data,
        )
        expect(b.audio_base_64 == a.audio_base_64, "cached audio differs")
        expect(b.alignment == a.alignment, "cached alignment differs")

    @check("elevenlabs/gateway/bad-key")
    def _():
        bad = ElevenLabs(base_url=GATEWAY_URL, api_key="gb-nobody", timeout=TIMEOUT)
        error = raises(
            elevenlabs.core.ApiError,
            lambda: b"".join(bad.text_to_speech.convert(voice_id, text=SPEECH)),
        )
        expect(error.status_code == 401, f"status {error.status_code}")
        expect(error.body["detail"]["status"] == "invalid_api_key", f"body {error.body}")


class Read:
    """An answer read whole, with its headers."""

    def __init__(self, headers, body):
        self.headers = headers
        self.body = body


def first_voice(client):
    """A voice the mock knows, from its own listing (else a premade voice's id)."""
    try:
        return client.voices.get_all().voices[0].voice_id
    except Exception:  # noqa: BLE001 - the voices check reports the failure
        return "21m00Tcm4TlvDq8ikWAM"


def main():
    print(f"python {sys.version.split()[0]}")
    print(f"openai {version('openai')}, elevenlabs {version('elevenlabs')}")

    mock = openai_client(OPENAI_URL, "sk-gatebench-test")
    gateway = openai_client(GATEWAY_URL, KEY)
    openai_checks("mock", mock)
    openai_mock_checks(mock)
    openai_checks("gateway", gateway)
    openai_gateway_checks(gateway)

    mock = ElevenLabs(base_url=ELEVENLABS_URL, api_key="xi-gatebench-test", timeout=TIMEOUT)
    gateway = ElevenLabs(base_url=GATEWAY_URL, api_key=KEY, timeout=TIMEOUT)
    voice_id = first_voice(mock)
    elevenlabs_mock_checks(mock)
    elevenlabs_checks("mock", mock, voice_id)
    elevenlabs_checks("gateway", gateway, voice_id)
    elevenlabs_gateway_checks(gateway, voice_id)

    if failures:
        print(f"{len(failures)} checks failed: {', '.join(failures)}")
        return 1
    print("all checks passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
