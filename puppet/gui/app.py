"""``puppet gui`` (and ``puppet`` with no command): the window's entry point."""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from PySide6.QtCore import QCoreApplication, QEvent, QTimer
from PySide6.QtGui import QColor, QPalette
from PySide6.QtWidgets import QApplication

from puppet.errors import PuppetError
from puppet.files import file_to_write
from puppet.gui.settings import APPLICATION, ORGANIZATION, Settings, open_settings


def _args(argv: list[str] | argparse.Namespace | None) -> argparse.Namespace:
    if isinstance(argv, argparse.Namespace):
        return argv
    from puppet.cli import build_parser

    return build_parser().parse_args(["gui", *(argv or [])])


def check_args(args: argparse.Namespace) -> None:
    """Mistakes in the options, found before a window opens."""
    if args.quit_after is not None and not 0 < args.quit_after <= 24 * 3600:
        raise PuppetError(f"--quit-after {args.quit_after:g} is out of range",
                          "give a number of seconds above 0")
    if args.screenshot:
        if args.quit_after is None:
            raise PuppetError("--screenshot is taken just before the window closes",
                              "give --quit-after SECONDS as well")
        shot = Path(args.screenshot)
        if shot.suffix.lower() not in (".png", ".jpg", ".jpeg"):
            raise PuppetError(f"--screenshot {shot} should end in .png", "e.g. window.png")
        file_to_write(str(shot), "--screenshot", "window.png")
    if args.portrait and not Path(args.portrait).is_file() and \
            not str(args.portrait).startswith("built-in:"):
        raise PuppetError(f"portrait not found: {args.portrait}",
                          "check the path and the file name")
    if getattr(args, "face", None) is not None and not args.portrait:
        raise PuppetError("--face chooses a face of the portrait given with --portrait",
                          "name the group portrait with --portrait as well")


def apply_theme(app: QApplication) -> None:
    """A dark theme: paintings look best on a dark ground, and the window stays calm."""
    app.setStyle("Fusion")
    pal = QPalette()
    role = QPalette.ColorRole
    for r, c in ((role.Window, (37, 38, 43)), (role.WindowText, (225, 225, 230)),
                 (role.Base, (28, 29, 33)), (role.AlternateBase, (45, 46, 52)),
                 (role.ToolTipBase, (250, 250, 240)), (role.ToolTipText, (20, 20, 20)),
                 (role.Text, (225, 225, 230)), (role.Button, (52, 54, 61)),
                 (role.ButtonText, (230, 230, 235)), (role.BrightText, (255, 90, 90)),
                 (role.Highlight, (76, 132, 214)), (role.HighlightedText, (255, 255, 255)),
                 (role.Link, (120, 170, 255)), (role.PlaceholderText, (140, 140, 150)),
                 (role.Mid, (150, 150, 160))):
        pal.setColor(r, QColor(*c))
    for r in (role.Text, role.ButtonText, role.WindowText):
        pal.setColor(QPalette.ColorGroup.Disabled, r, QColor(120, 120, 128))
    app.setPalette(pal)


def main(argv: list[str] | argparse.Namespace | None = None) -> int:
    """Open the window; returns the exit code when it closes."""
    args = _args(argv)
    check_args(args)
    from puppet.gui.window import MainWindow

    app = QApplication.instance() or QApplication(sys.argv[:1])
    app.setOrganizationName(ORGANIZATION)
    app.setApplicationName(APPLICATION)
    app.setApplicationDisplayName("Puppet")
    apply_theme(app)
    settings = Settings(open_settings())
    portrait = str(Path(args.portrait).resolve()) if args.portrait and \
        not str(args.portrait).startswith("built-in:") else args.portrait
    source = args.source
    if source and not source.isdigit() and source.lower() != "demo":
        if not Path(source).exists():
            raise PuppetError(f"video source not found: {source}",
                              "check the path, or give a camera number or 'demo'")
        source = str(Path(source).resolve())
    window = MainWindow(settings, source=source, portrait=portrait, device=args.device,
                        face=getattr(args, "face", None),
                        framing=getattr(args, "framing", None))
    window.show()
    if args.fullscreen:
        window.toggle_fullscreen()
    failed = []
    if args.quit_after is not None:
        def finish(w: MainWindow = window) -> None:
            if args.screenshot and not w.grab().save(str(args.screenshot)):
                failed.append(f"the screenshot could not be saved to {args.screenshot}")
            w.close()

        QTimer.singleShot(int(args.quit_after * 1000), finish)
    code = app.exec()
    for problem in failed:
        print(f"puppet: error: {problem}.", file=sys.stderr)
        code = code or 2
    # take the window down while Python and Qt are both still whole
    window.deleteLater()
    del window
    QCoreApplication.sendPostedEvents(None, QEvent.Type.DeferredDelete)
    return code
