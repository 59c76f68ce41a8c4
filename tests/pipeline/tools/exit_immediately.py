#!/usr/bin/env python3
"""A transformer that exits with status 5 before reading anything."""
import sys

sys.exit(5)
