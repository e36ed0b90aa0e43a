"""Real scanners over the render: checkov (Kubernetes manifests and the AWS resources as a Terraform
plan) and bandit (the project's Python), each with an allow-list in ``security/`` whose every entry
names the check, the object and the reason. ``./run scan`` runs them; see docs/security.md."""
