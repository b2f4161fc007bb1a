"""Fault tests: crashes, corrupt journals, full disks, hostile input."""
