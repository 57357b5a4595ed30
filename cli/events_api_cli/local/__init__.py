"""The local stack behind ``events-api dev``: moto's server, the API Gateway and function URL
front door, the event source mappings' pollers, the Lambda runtime, and the fault hooks."""
