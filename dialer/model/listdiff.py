"""What a new import changes in a list: added, changed, removed (issue 12 item 4).

A nightly SIS export is imported again and again. Each way of reaching a
person about a student has a key -- (student, guardian, phone label) -- and
comparing the list's current version with the incoming rows by that key
gives the diff staff check before (``--dry-run``) or after an import:

* added: a key the list did not have (a new student, guardian or phone);
* changed: the same key with another number (a new number is a new number
  for the gate: it needs its own consent, and the old number's opt-out stays
  with the old number, C5-C7);
* removed: a key the export no longer has (a departed student: the list
  drops them, their consent and opt-out history stays for its retention).

``dialer.store.scratch.DiffDb`` works it out in bounded memory.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

#: examples of each kind of change kept for the report
EXAMPLES = 20


@dataclass(frozen=True)
class Change:
    student: str
    guardian: str
    kind: str
    #: where it is: "row 14" of the new file, or "contact S-1002" of the list
    where: str


@dataclass
class ListDiff:
    added: int = 0
    changed: int = 0
    removed: int = 0
    unchanged: int = 0
    examples: dict[str, list[Change]] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {
            "added": self.added,
            "changed": self.changed,
            "removed": self.removed,
            "unchanged": self.unchanged,
            "examples": {
                kind: [
                    {"student": c.student, "guardian": c.guardian, "phone": c.kind, "at": c.where}
                    for c in changes
                ]
                for kind, changes in self.examples.items()
            },
        }
