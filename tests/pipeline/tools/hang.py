#!/usr/bin/env python3
"""A transformer that reads a request and never answers (until killed)."""
import sys
import time

sys.stdin.readline()
time.sleep(3600)
