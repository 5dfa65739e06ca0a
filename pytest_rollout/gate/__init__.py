"""Which layers moved and whether they may ship together: the layer map, the judging rule, the policy.

Never imports pytest or scipy: the pre-push hook runs this stage.
"""
