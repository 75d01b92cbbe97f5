"""Pieces of toy specs that several tests share."""

# an SE block that its own `when:` leaves out where its reduction is 0 (emit/guard.py's guarded child),
# as a `blocks:` entry
SE_BLOCK = """  se:
    params: {reduction: 16}
    when: ${reduction > 0}
    let: {channels: "${input.channels}"}
    nodes:
      - pool: global_avgpool
      - fc1: {op: conv, out: "${channels // reduction}", k: 1}
      - fc2: {op: conv, out: "${channels}", k: 1}
      - gate: sigmoid
      - {op: mul, in: [input, gate]}
"""
