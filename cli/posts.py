"""`flask posts render`: re-render posts from their Markdown."""
from __future__ import annotations

import click
from sqlalchemy import select

from extensions import db


@click.group("posts")
def posts_group() -> None:
    """Blog posts."""


@posts_group.command("render")
@click.argument("slugs", nargs=-1)
def posts_render(slugs: tuple[str, ...]) -> None:
    """Re-render posts from their Markdown (all, or the SLUGS given), e.g. after a rendering change."""
    from models import Post

    query = select(Post).order_by(Post.id)
    if slugs:
        query = query.where(Post.slug.in_(slugs))
    posts = db.session.scalars(query).all()
    missing = set(slugs) - {p.slug for p in posts}
    if missing:
        raise click.ClickException(f"no post with slug {', '.join(sorted(missing))}")
    for post in posts:
        post.rerender()
    db.session.commit()
    click.echo(f"Rendered {len(posts)} post{'' if len(posts) == 1 else 's'}.")
