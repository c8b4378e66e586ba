"""Fixtures for the Training target: optimizers, schedules and clipping, by PyTorch and transformers."""
import torch
import transformers

from registry import fixture, write_json


def _flat(t):
    return [float(x) for x in t.detach().reshape(-1).tolist()]


def _params(seed):
    g = torch.Generator().manual_seed(seed)
    shapes = {"w1": (3, 5), "bias": (7,), "w2": (5, 3), "norm": (5,)}
    return {n: torch.nn.Parameter(torch.randn(*s, generator=g)) for n, s in shapes.items()}, g


def _run(name, make_optimizer, make_scheduler, clip, steps, seed, grad_scale):
    params, g = _params(seed)
    record = {"names": list(params), "shapes": {n: list(p.shape) for n, p in params.items()},
              "initial": {n: _flat(p) for n, p in params.items()}, "steps": []}
    opt = make_optimizer(params)
    sched = make_scheduler(opt)
    for _ in range(steps):
        grads = {n: torch.randn(p.shape, generator=g) * grad_scale for n, p in params.items()}
        for n, p in params.items():
            p.grad = grads[n].clone()
        lr = opt.param_groups[0]["lr"]
        norm = float(torch.nn.utils.clip_grad_norm_(list(params.values()), clip)) if clip else None
        opt.step()
        sched.step()
        record["steps"].append({"lr": lr, "grads": {n: _flat(v) for n, v in grads.items()}, "total_norm": norm,
                                "params": {n: _flat(p) for n, p in params.items()}})
    write_json(f"training/{name}.json", {"source": f"torch {torch.__version__}, transformers {transformers.__version__}",
                                         **record})


@fixture("optim-adamw")
def adamw():
    """10 AdamW steps (decay on matrices only), warmup + cosine schedule, global-norm clipping at 1.0."""
    def make(params):
        decay = [params["w1"], params["w2"]]
        no_decay = [params["bias"], params["norm"]]
        return torch.optim.AdamW([{"params": decay, "weight_decay": 0.1}, {"params": no_decay, "weight_decay": 0.0}],
                                 lr=3e-2, betas=(0.9, 0.95), eps=1e-8)
    _run("adamw", make, lambda o: transformers.get_cosine_schedule_with_warmup(o, 3, 10), clip=1.0, steps=10,
         seed=11, grad_scale=0.7)


@fixture("optim-sgd")
def sgd():
    """10 SGD steps with Nesterov momentum 0.9, coupled weight decay 0.01 on matrices, linear schedule, no clipping."""
    def make(params):
        return torch.optim.SGD([{"params": [params["w1"], params["w2"]], "weight_decay": 0.01},
                                {"params": [params["bias"], params["norm"]], "weight_decay": 0.0}],
                               lr=0.1, momentum=0.9, nesterov=True)
    _run("sgd", make, lambda o: transformers.get_linear_schedule_with_warmup(o, 2, 10), clip=None, steps=10,
         seed=12, grad_scale=1.0)


@fixture("lr-schedules")
def schedules():
    """Learning-rate multipliers of transformers' constant/linear/cosine(-with-min-lr) schedules with warmup."""
    cases = []
    for kind, warmup, total, min_ratio in [("constant", 5, 40, 0.0), ("linear", 5, 40, 0.0), ("cosine", 5, 40, 0.0),
                                           ("cosine", 0, 17, 0.0), ("cosine", 3, 23, 0.1), ("linear", 0, 1, 0.0)]:
        p = torch.nn.Parameter(torch.zeros(1))
        opt = torch.optim.SGD([p], lr=1.0)
        if kind == "constant":
            s = transformers.get_constant_schedule_with_warmup(opt, warmup)
        elif kind == "linear":
            s = transformers.get_linear_schedule_with_warmup(opt, warmup, total)
        elif min_ratio:
            s = transformers.get_cosine_with_min_lr_schedule_with_warmup(opt, warmup, total, min_lr_rate=min_ratio)
        else:
            s = transformers.get_cosine_schedule_with_warmup(opt, warmup, total)
        lrs = []
        for _ in range(total + 3):
            lrs.append(opt.param_groups[0]["lr"])
            opt.step()
            s.step()
        cases.append({"kind": kind, "warmup": warmup, "total": total, "min_ratio": min_ratio, "multipliers": lrs})
    write_json("training/schedules.json", {"source": f"transformers {transformers.__version__}", "cases": cases})
