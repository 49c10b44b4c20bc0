from django.core.management.base import BaseCommand

from realtime.asyncapi import render


class Command(BaseCommand):
    help = "Prints the AsyncAPI 3 document of the socket protocol (docs/asyncapi.yaml)."

    def handle(self, *args, **options):
        self.stdout.write(render(), ending="")
