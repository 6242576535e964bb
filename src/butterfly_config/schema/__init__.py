"""The typed option set: one model per section (`root.ConfigModel` is the whole
document), option metadata (`options`), the leaf registry (`registry`), and what
is generated from them: JSON Schema, reference doc, annotated template."""
