"""Seatbelt (SBPL) profiles without a Mac: read them, run them, check them.

``parser`` reads SBPL text into positioned s-expressions (``grammar/sbpl.lark``);
``catalog`` names the operations, filters and modifiers by macOS version;
``evaluator`` loads a profile and decides requests as Seatbelt would;
``lint`` checks a profile as written and ``fix`` applies its safe fixes.
"""
