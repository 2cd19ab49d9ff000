# MLflow models-from-code: this file is copied into the logged model and run on load.
# It holds no logic: the class lives in the installed needsid package.
import mlflow.models

from needsid.tracking._need_pyfunc import NeedProfilePyfunc

mlflow.models.set_model(NeedProfilePyfunc())
