"""Offline evaluation: datasets → runs → metrics → reports."""
