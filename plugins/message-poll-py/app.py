"""The `example/poll` message type, in Python: a question and two to eight answers.

`prepare` takes JSON, `{"question": "Lunch?", "answers": ["Noodles", "Soup"]}`, and writes it
again trimmed and compact; `validate` refuses anything else; `summary` reads it out in one line.
Built into a component by componentize-py against plugin-api/wit (world `message-type`); the
exports are the `Content` class's methods, and an error is raised as `Err(PluginError_…)`.
"""
import json

from componentize_py_types import Err
from wit_world import exports
from wit_world.exports import content
from wit_world.imports import log, types

CONTENT_TYPE = "example/poll"
VERSION = 1
MAX_INPUT = 4096
MAX_PAYLOAD = 4096


def refuse(why):
    raise Err(types.PluginError_InvalidInput(why))


def parse(data):
    try:
        poll = json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as e:
        refuse(f"a poll is JSON: {{\"question\": ..., \"answers\": [...]}} ({e})")
    if not isinstance(poll, dict) or set(poll) != {"question", "answers"}:
        refuse("a poll has exactly the keys `question` and `answers`")
    question, answers = poll["question"], poll["answers"]
    if not isinstance(question, str) or not question.strip() or len(question) > 200:
        refuse("`question` is 1 to 200 characters of text")
    if not isinstance(answers, list) or not 2 <= len(answers) <= 8:
        refuse("`answers` lists 2 to 8 answers")
    for a in answers:
        if not isinstance(a, str) or not a.strip() or len(a) > 100:
            refuse("each answer is 1 to 100 characters of text")
    if any(not c.isprintable() for c in question + "".join(answers)):
        refuse("a poll holds no control characters")
    return question.strip(), [a.strip() for a in answers]


def check_version(version):
    if version != VERSION:
        raise Err(types.PluginError_UnsupportedVersion(version))


class Content(exports.Content):
    def describe(self):
        return content.Description(CONTENT_TYPE, content.VersionRange(VERSION, VERSION), MAX_INPUT, MAX_PAYLOAD)

    def check_settings(self, settings):
        for s in settings:
            refuse(f"unknown setting `{s.key}`; poll has no settings")

    def prepare(self, input, options, version):
        check_version(version)
        question, answers = parse(input)
        log.write(types.Level.DEBUG, f"poll with {len(answers)} answers")
        return json.dumps({"question": question, "answers": answers}, ensure_ascii=False, separators=(",", ":")).encode()

    def validate(self, payload, version):
        check_version(version)
        parse(payload)

    def summary(self, payload, version):
        check_version(version)
        question, answers = parse(payload)
        return f"Poll: {question} ({' / '.join(answers)})"
