"""Reports: what the project's data says, computed from `models` and rendered as Chinese text.

Below both `handlers` (the `/议程 /汇总 /周报` commands, and every reply's labels and line renderers) and
`scheduler` (the posts it times): the same computation and the same vocabulary serve both.
"""
