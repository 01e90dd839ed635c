"""Prompts (DESIGN.md 3.3): an instruction naming the task and its candidate labels, the media placeholders,
the text, and the request to name the grounding module and instruction for each grounded item.
Wrapped in the backbone's chat template (Vicuna v1.1, or ChatML for SmolLM2-style models)."""
from __future__ import annotations

from reamo.model.tokens import MEDIA_MODALITIES

VICUNA_SYSTEM = ("A chat between a curious user and an artificial intelligence assistant. The assistant gives "
                 "helpful, detailed, and polite answers to the user's questions.")
TASK_NAMES = {"ner": "named entity recognition", "re": "relation extraction", "ee": "event extraction"}
TASK_FORMATS = {
    "ner": "(entity, type)",
    "re": "(subject, relation, object)",
    "ee": "(Type: event type, Trigger: word, Role: argument, ...)",
}
MEDIA_WORDS = {"image": "image", "audio": "audio", "video": "video"}


def chat_prompt(user_message: str, template: str = "vicuna") -> str:
    """The text before the assistant's answer. The answer itself is followed by the tokenizer's eos, which
    the processor appends (it is not part of this text)."""
    if template == "chatml":
        return f"<|im_start|>user\n{user_message}<|im_end|>\n<|im_start|>assistant\n"
    return f"{VICUNA_SYSTEM} USER: {user_message} ASSISTANT:"


def schema_labels(task: str, schema: dict) -> str:
    if task == "ner":
        return ", ".join(schema.get("entity_types", []))
    if task == "re":
        return ", ".join(schema.get("relation_types", []))
    ev = schema.get("event_types", {})
    return "; ".join(f"{t} [{', '.join(r)}]" for t, r in ev.items())


def build_prompt(task: str, schema: dict, text: str | None, modalities: list[str] | tuple[str, ...],
                 placeholders: dict[str, str], schema_text: str | None = None) -> str:
    """The user message. `placeholders[m]` is the placeholder string of one media item of modality m."""
    present = [m for m in MEDIA_MODALITIES if m in modalities]
    parts = []
    for m in present:
        parts.append(f"{MEDIA_WORDS[m].capitalize()}: {placeholders[m]}")
    sources = [*(MEDIA_WORDS[m] for m in present), *(["text"] if text else [])]
    src = " and ".join(sources) if sources else "input"
    parts.append(f"Task: {TASK_NAMES[task]} from the {src}. Candidate labels: {schema_labels(task, schema)}.")
    if task == "re" and schema.get("entity_pairs"):
        parts.append("Entity pairs: " + " ".join(f"({h}, {t})" for h, t in schema["entity_pairs"])
                     + ". Give the relations of these pairs only.")
    if schema_text:
        parts.append(f"Schema: {schema_text}")
    if text:
        parts.append(f"Text: {text}")
    parts.append(f"Answer as {TASK_FORMATS[task]}" + (
        ", then for each item found in the media give <Module>name</Module><Instruction>phrase</Instruction>."
        if present else "."))
    return "\n".join(parts)


def schema_question_prompt(schema_text: str, text: str, question: str) -> str:
    """MS-PIT stage 1a: a question about the event schema and the text's events."""
    return f"Schema: {schema_text}\nText: {text}\nQuestion: {question}"


def caption_prompt(modality: str, placeholder: str) -> str:
    """Phase 2 (alignment): describe the media."""
    return f"{MEDIA_WORDS[modality].capitalize()}: {placeholder}\nDescribe the {MEDIA_WORDS[modality]} briefly."


def grounding_prompt(phrase: str, modality: str, placeholder: str) -> str:
    """Phase 3 (grounding-aware tuning): locate a phrase in the media."""
    return (f"{MEDIA_WORDS[modality].capitalize()}: {placeholder}\nLocate \"{phrase}\" in the {MEDIA_WORDS[modality]} "
            "and give <Module>name</Module><Instruction>phrase</Instruction>.")
