from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from catalog import pools
from catalog.exceptions import CodeUploadRefused
from catalog.models import CodePool
from core.actors import Actor


class Command(BaseCommand):
    help = "Upload a CSV file of voucher codes (code, optional pin and expires_on) to a pool."

    def add_arguments(self, parser):
        parser.add_argument("pool", type=int, help="The code pool's id.")
        parser.add_argument("path", type=Path, help="The CSV file.")

    def handle(self, *args, pool: int, path: Path, **options):
        code_pool = CodePool.objects.select_related("offer__supplier").filter(pk=pool).first()
        if code_pool is None:
            raise CommandError(f"No code pool with id {pool}.")
        try:
            with path.open("rb") as file:
                result = pools.codes_upload(
                    pool=code_pool, file=file, actor=Actor.system("upload_codes")
                )
        except OSError as error:
            raise CommandError(f"Cannot read {path}: {error.strerror}") from error
        except CodeUploadRefused as error:
            raise CommandError(
                "No code was stored:\n" + "\n".join(error.extra["errors"])
            ) from error
        self.stdout.write(str(result))
