"""Progressive delivery: ``python -m automation shift ENV --to red=100`` moves colorapp's traffic in
steps, checks every version at every step, and puts the last good weights back when one fails.

plan.py: the steps and their weights (pure); judge.py: the verdict of one step per version (pure);
sample.py: the HTTP burst through front that reads front's version and attempts headers;
observe.py: what AWS reports the weights to be (VPC Lattice listener rules); state.py: the saved
state, the lease and the lock; stack.py: the stack's weights, the targeted update; run.py: the
orchestration with its dependencies passed in. docs/canary.md describes the whole.
"""
