"""Monitoring: every alarm of the stack notifies one topic (the recording workflow's, KMS-encrypted, TLS only).

Capability constructs create their own alarms next to what they watch; this construct adds the ones that
span capabilities (dead-letter queues) and routes every alarm to the topic, so one subscription
(``alarmEmail``) hears about all of them.
"""

from __future__ import annotations

from aws_cdk import Duration
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_cloudwatch_actions as actions
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sqs as sqs
from constructs import Construct


class Monitoring(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        topic: sns.ITopic,
        dead_letter_queues: dict[str, sqs.IQueue],
        alarms: list[cloudwatch.Alarm],
    ):
        super().__init__(scope, construct_id)
        self.topic = topic
        action = actions.SnsAction(topic)
        self.alarms = list(alarms)
        for name, queue in dead_letter_queues.items():
            self.alarms.append(
                cloudwatch.Alarm(
                    self,
                    f"{name}DeadLetters",
                    alarm_description=f"{name}: messages reached the dead-letter queue (inspect and redrive them)",
                    metric=queue.metric_approximate_number_of_messages_visible(period=Duration.minutes(5)),
                    threshold=1,
                    evaluation_periods=1,
                    comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
                    treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
                )
            )
        for alarm in self.alarms:
            alarm.add_alarm_action(action)
