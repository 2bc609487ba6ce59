"""Disassembly: function recovery over capstone-decoded instructions."""
