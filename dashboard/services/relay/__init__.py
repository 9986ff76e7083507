"""`flask outbox relay`: delivers what the outbox holds, from outside any request.

claims (which relay works on which rows: FOR UPDATE SKIP LOCKED and a lease; each attempt
recorded, retried with backoff, given up after the last one), smtp (emails over a real SMTP
connection with the standard library), amqp (domain events to RabbitMQ with publisher
confirms), loop (one pass, and the long-running process).
"""
