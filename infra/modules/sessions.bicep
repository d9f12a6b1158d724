// Optional: Azure Container Apps dynamic sessions (Hyper-V isolated Python interpreters) as the code sandbox backend.
param prefix string
param location string
param tags object
param environmentId string

resource pool 'Microsoft.App/sessionPools@2024-02-02-preview' = {
  name: '${prefix}-code-sessions'
  location: location
  tags: tags
  properties: {
    environmentId: environmentId
    poolManagementType: 'Dynamic'
    containerType: 'PythonLTS'
    scaleConfiguration: { maxConcurrentSessions: 100, readySessionInstances: 10 }
    dynamicPoolConfiguration: { executionType: 'Timed', cooldownPeriodInSeconds: 300 }
    sessionNetworkConfiguration: { status: 'EgressDisabled' }
  }
}

output poolManagementEndpoint string = pool.properties.poolManagementEndpoint
