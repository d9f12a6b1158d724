// Console and structured logs of every app go to Log Analytics; traces and metrics go over OTLP (see otlpEndpoint).
param prefix string
param location string
param tags object

resource workspace 'Microsoft.OperationalInsights/workspaces@2023-09-01' = {
  name: '${prefix}-logs'
  location: location
  tags: tags
  properties: {
    sku: { name: 'PerGB2018' }
    retentionInDays: 30
  }
}

output workspaceName string = workspace.name
