"""A deleted or disabled user loses their Kafka principals (theirs and their workloads')."""

from __future__ import annotations

from django.contrib.auth import get_user_model
from django.db.models.signals import post_save, pre_delete
from django.dispatch import receiver

from .principals import provisioning_enabled, user_principals_remove

User = get_user_model()


@receiver(pre_delete, sender=User, dispatch_uid="kafkaml.topics.user_deleted")
def _user_deleted(sender, instance, **kwargs) -> None:
    # Before the rows go (they cascade with the user): Kafka first, so a refusal stops the
    # deletion instead of leaving a live credential nobody owns.
    if provisioning_enabled():
        user_principals_remove(instance)


@receiver(post_save, sender=User, dispatch_uid="kafkaml.topics.user_saved")
def _user_disabled(sender, instance, created, **kwargs) -> None:
    if not created and not instance.is_active and provisioning_enabled():
        user_principals_remove(instance)
