"""IAM, locally: each function's AWS calls held to its role's policies, as AWS holds them.

``policy`` evaluates policy documents (IAM's evaluation logic for one account: explicit
deny, then allow, else implicit deny; wildcards, NotAction/NotResource, conditions);
``requests`` works out the action, resources and condition keys of an AWS request as IAM
would see it; ``enforcer`` sits in front of moto's server, finds the role behind each
request's SigV4 credentials and answers AccessDenied in the service's own error shape.
"""
