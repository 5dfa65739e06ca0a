"""What moved between two commits: git plumbing, the window, changed files, parsed formats, redaction.

Never imports pytest or scipy: the pre-push hook runs this stage.
"""
