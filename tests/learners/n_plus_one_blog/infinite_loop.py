"""Never returns."""


def render_index(session):
    total = 0
    while True:
        total += 1
