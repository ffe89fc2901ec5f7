import pytest
import torch


@pytest.fixture(autouse=True, scope="module")
def one_thread():
    """The generator tests train tiny networks; on a shared 2-core machine one thread per test
    process is several times faster than two threads fighting over the cores."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)
